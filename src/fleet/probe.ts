import type { TalosApiError } from '../talos/errors';
import type { FleetConnector } from './connect';
import type { NodeSpec } from './schema';

/**
 * What a node is, seen from this deployment:
 * - `maintenance`: booted without a config, waiting for one (TLS without client certificates);
 * - `installing`: a config was applied and the node is installing or rebooting into it;
 * - `member`: it answers over mutual TLS with this cluster's CA (installed as part of this cluster);
 * - `foreign`: it answers, but neither in maintenance mode nor with this cluster's identity;
 * - `unreachable`: nothing answers at its address.
 */
export type NodeState = 'maintenance' | 'installing' | 'member' | 'foreign' | 'unreachable';

export interface NodeProbe {
  node: string;
  address: string;
  state: NodeState;
  /** Why the node is in that state, for messages. */
  detail: string;
  /** Talos version, when the node answered Version. */
  version?: string;
  /** MachineStatus stage (`running`, `maintenance`, `installing`, ...), when known. */
  stage?: string;
}


function stageName(stage: string | undefined): string | undefined {
  return stage?.replace(/^MACHINE_STAGE_/, '').toLowerCase();
}

/**
 * Finds out what a node is. Maintenance mode is recognized by its MachineStatus stage read without a client
 * certificate, which works on every Talos version (Version answers in maintenance mode from 1.13 on, so "Version is
 * Unimplemented" is no test); membership by an answer over mutual TLS with the cluster's CA.
 */
export async function probeNode(connector: FleetConnector, cluster: string, node: NodeSpec): Promise<NodeProbe> {
  const base = { node: node.name, address: node.address };
  let memberError: TalosApiError | undefined;
  try {
    const client = connector.node(cluster, node);
    const [reply] = await client.version();
    if (reply?.error) throw reply.error;
    const status = await client.machineStatus({}).catch(() => undefined);
    return { ...base, state: 'member', detail: 'answers with the cluster identity', version: reply?.value.version?.tag ?? '', stage: stageName(status?.stage) };
  } catch (err) {
    memberError = err as TalosApiError;
  }
  try {
    const status = await connector.maintenance(cluster, node).machineStatus({});
    const stage = stageName(status.stage);
    if (stage === 'maintenance') return { ...base, state: 'maintenance', detail: 'in maintenance mode, waiting for a configuration', stage };
    return { ...base, state: 'installing', detail: `applying its configuration (stage ${stage ?? 'unknown'})`, stage };
  } catch (err) {
    const maintenanceError = err as TalosApiError;
    switch (maintenanceError.code) {
      case 'tls_failed':
        // The node wants a client certificate it trusts: configured, and not by this cluster's CA (or the member
        // attempt would have worked).
        if (memberError.code === 'tls_failed') {
          return { ...base, state: 'foreign', detail: `not in maintenance mode and not answering with this cluster's identity (${memberError.detail})` };
        }
        return { ...base, state: 'unreachable', detail: `does not answer with the cluster identity right now (${memberError.detail ?? memberError.message})` };
      case 'unavailable':
      case 'deadline_exceeded':
      case undefined:
        // Refused, reset or timed out: down or rebooting right now (an install reboots between two probes).
        return { ...base, state: 'unreachable', detail: `nothing answers at ${node.address}:${node.port} (${maintenanceError.detail ?? maintenanceError.message})` };
      default:
        // An answer without our certificate that refuses the call: a node between maintenance mode and its first
        // boot with the config, which no longer takes a config and does not yet require a client certificate.
        return { ...base, state: 'installing', detail: `applying its configuration (${maintenanceError.code})` };
    }
  }
}
