import { stringify as stringifyYaml } from 'yaml';
import { messageCodec, toProtoTime } from '../../talos/codec';
import { Code, GrpcError } from '../grpc/server';
import type { SimulatedNode } from '../node';
import { SENSITIVE_RESOURCE_TYPES } from './authz';
import type { Impl } from './types';
import { versionedResources } from './cosi-types';

const MACHINE_STATUS = 'MachineStatuses.runtime.talos.dev';
const MACHINE_CONFIG = 'MachineConfigs.config.talos.dev';

/** The resources a simulated node keeps, as COSI serves them (protobuf spec plus its YAML rendering). */
function resources(node: SimulatedNode, type: string): { namespace: string; id: string; protoSpec: Buffer; yamlSpec: string }[] {
  if (type === MACHINE_STATUS) {
    const spec = { stage: `MACHINE_STAGE_${node.stage}`, status: { ready: node.ready, unmetConditions: node.unmetConditions() } };
    return [
      {
        namespace: 'runtime',
        id: 'machine',
        protoSpec: messageCodec('talos.resource.definitions.runtime.MachineStatusSpec').encode(spec),
        yamlSpec: stringifyYaml({ stage: node.stage.toLowerCase(), status: { ready: spec.status.ready, unmetConditions: spec.status.unmetConditions } }),
      },
    ];
  }
  if (type === MACHINE_CONFIG && node.config) {
    return [{ namespace: 'config', id: 'v1alpha1', protoSpec: messageCodec('resource.config.MachineConfigSpec').encode({ yamlMarshalled: Buffer.from(node.config.yaml) }), yamlSpec: node.config.yaml }];
  }
  return versionedResources(node, type);
}

function toResource(type: string, r: ReturnType<typeof resources>[number]) {
  const now = Date.now();
  return {
    metadata: { namespace: r.namespace, type, id: r.id, version: '1', owner: '', phase: 'running', created: toProtoTime(now), updated: toProtoTime(now), finalizers: [], labels: {}, annotations: {} },
    spec: { protoSpec: r.protoSpec, yamlSpec: r.yamlSpec },
  };
}

function readable(type: string, roles: string[]): void {
  if (SENSITIVE_RESOURCE_TYPES.has(type) && !roles.includes('os:admin')) throw new GrpcError(Code.PERMISSION_DENIED, 'not authorized');
}

/** A type the node's Talos does not register: COSI answers NotFound, as for any unknown resource definition. */
function registered(node: SimulatedNode, type: string): void {
  if (type === MACHINE_STATUS || type === MACHINE_CONFIG || node.profile.cosi.types.includes(type)) return;
  throw new GrpcError(Code.NOT_FOUND, `resource definition "${type}" is not registered`);
}

/** COSI State.Get / State.List for the resource types the simulator models. */
export const cosiHandlers: Record<string, Impl> = {
  Get: {
    unary: async (req: { namespace: string; type: string; id: string }, { node, roles }) => {
      registered(node, req.type);
      readable(req.type, roles);
      const found = resources(node, req.type).find((r) => r.id === req.id && (!req.namespace || r.namespace === req.namespace));
      if (!found) throw new GrpcError(Code.NOT_FOUND, `resource ${req.type}(${req.namespace}/${req.id}) doesn't exist`);
      return { resource: toResource(req.type, found) };
    },
  },
  List: {
    stream: async (req: { namespace: string; type: string }, { node, roles }, send) => {
      registered(node, req.type);
      readable(req.type, roles);
      for (const r of resources(node, req.type).filter((x) => !req.namespace || x.namespace === req.namespace)) {
        await send({ resource: toResource(req.type, r) });
      }
    },
  },
};
