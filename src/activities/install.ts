import { dirname } from 'node:path';
import { mkdirSync } from 'node:fs';
import { Context } from '@temporalio/activity';
import { writeFileAtomically } from '../config/files';
import { clusterHealth } from '../fleet/health';
import { gatePolicy } from '../fleet/policy';
import { probeNode, type NodeProbe } from '../fleet/probe';
import { installImageOf, renderClusterNodeConfig } from '../fleet/render';
import type { NodeSpec } from '../fleet/schema';
import type { GatePolicy } from '../shared/runs';
import { imageTag } from '../releases/versions';
import { AlreadyBootstrappedError } from '../talos/errors';
import { onlyValue } from '../talos/replies';
import { permanent, transient } from './failures';
import { pollWithin, type CheckResult } from './checks';
import type { ActivityDeps } from './deps';

/** A node as the install plans it (references only: no key material). */
export interface PlannedNode {
  name: string;
  address: string;
  role: 'controlplane' | 'worker';
  hostname: string;
}

/** What install will do, shown at its start gate. */
export interface InstallPlan {
  cluster: string;
  endpoint: string;
  talosVersion: string;
  installImage: string;
  nodes: PlannedNode[];
  policy: GatePolicy;
}


/** The install's activities. Each checks the world before acting, so a retried attempt never repeats an effect. */
export function installActivities(deps: ActivityDeps) {
  const node = (cluster: string, name: string): NodeSpec => deps.inventory().node(cluster, name);

  return {
    /** Reads the cluster from the inventory: nodes, versions, and who may approve. */
    async planInstall(input: { cluster: string }): Promise<InstallPlan> {
      const inv = deps.inventory();
      const spec = inv.cluster(input.cluster);
      return {
        cluster: spec.name,
        endpoint: spec.endpoint,
        talosVersion: spec.talosVersion,
        installImage: installImageOf(inv, spec.name),
        nodes: spec.nodes.map((n) => ({ name: n.name, address: n.address, role: n.role, hostname: n.hostname ?? n.name })),
        policy: gatePolicy(spec.policy, 'install'),
      };
    },

    /**
     * Before anything is touched: every node must be in maintenance mode or already a member of this cluster (a
     * resumed install). A node that does not answer, or answers with another identity, refuses the whole install.
     */
    async preflightInstall(input: { cluster: string }): Promise<NodeProbe[]> {
      const spec = deps.inventory().cluster(input.cluster);
      const probes = await Promise.all(spec.nodes.map((n) => probeNode(deps.connector, input.cluster, n)));
      const bad = probes.filter((p) => p.state === 'unreachable' || p.state === 'foreign');
      if (bad.length > 0) {
        throw permanent('NodeNotInMaintenance', `cannot install cluster "${input.cluster}": ${bad.map((p) => `${p.node} (${p.address}) ${p.detail}`).join('; ')}. Boot every node from the Talos ISO (maintenance mode) first; nothing was changed`);
      }
      if (probes.every((p) => p.state === 'member')) {
        throw permanent('AlreadyInstalled', `cluster "${input.cluster}" is already installed: every node answers with its identity; nothing was changed`);
      }
      return probes;
    },

    /**
     * Applies a node's rendered config over the maintenance API, once: a node that is already installing or answers
     * with the cluster's identity has had it applied (a lost reply, a retried attempt) and is left alone.
     */
    async applyMaintenanceConfig(input: { cluster: string; node: string }): Promise<{ applied: boolean; detail: string }> {
      const spec = node(input.cluster, input.node);
      const probe = await probeNode(deps.connector, input.cluster, spec);
      switch (probe.state) {
        case 'member':
        case 'installing':
          return { applied: false, detail: probe.detail };
        case 'unreachable':
          throw transient('NodeUnreachable', `${spec.name} (${spec.address}): ${probe.detail}`);
        case 'foreign':
          throw permanent('NodeNotInMaintenance', `${spec.name} (${spec.address}) is ${probe.detail}; its config was not applied`);
        case 'maintenance': {
          const config = await renderClusterNodeConfig(deps.inventory(), input.cluster, spec.name);
          onlyValue(await deps.connector.maintenance(input.cluster, spec).applyConfiguration({ data: config, mode: 'AUTO' }));
          return { applied: true, detail: 'configuration applied; installing' };
        }
      }
    },

    /** Waits (up to `windowMs`) for the node to answer over mutual TLS with the cluster's CA, on the version to install. */
    async checkNodeInstalled(input: { cluster: string; node: string; windowMs: number; pollMs?: number }): Promise<CheckResult & { version?: string }> {
      const spec = node(input.cluster, input.node);
      const wanted = imageTag(installImageOf(deps.inventory(), input.cluster));
      let version: string | undefined;
      const result = await pollWithin(input.windowMs, async () => {
        // Anything but an answer with the cluster's identity is "not yet": while it installs, a node moves from its
        // maintenance certificate through a reboot to its new identity, and a probe can catch any moment of that.
        const probe = await probeNode(deps.connector, input.cluster, spec);
        if (probe.state !== 'member') return { done: false, detail: probe.state === 'foreign' ? 'presents a certificate of another identity (still installing?)' : probe.detail };
        version = probe.version;
        if (wanted && probe.version !== wanted) return { done: false, detail: `answers on ${probe.version}, installing ${wanted}` };
        return { done: probe.stage === 'running', detail: probe.stage === 'running' ? `running ${probe.version}` : `booting ${probe.version} (stage ${probe.stage})` };
      }, input.pollMs);
      return { ...result, ...(version ? { version } : {}) };
    },

    /**
     * Bootstraps etcd on one control plane, exactly once across the cluster: if any control plane's etcd is past
     * waiting to join (Preparing), the cluster is already bootstrapped and nothing is sent; an AlreadyExists answer
     * (a retried attempt whose first reply was lost) also means done.
     */
    async bootstrapEtcd(input: { cluster: string; node: string }): Promise<{ bootstrapped: boolean; detail: string }> {
      const inv = deps.inventory();
      const controlPlanes = inv.cluster(input.cluster).nodes.filter((n) => n.role === 'controlplane');
      for (const cp of controlPlanes) {
        const services = await deps.connector
          .node(input.cluster, cp)
          .serviceList()
          .then((r) => onlyValue(r).services)
          .catch(() => undefined);
        const etcd = services?.find((s) => s.id === 'etcd');
        if (etcd && !['Waiting', 'Preparing'].includes(etcd.state)) return { bootstrapped: false, detail: `already bootstrapped: etcd on ${cp.name} is ${etcd.state}` };
      }
      const target = node(input.cluster, input.node);
      try {
        onlyValue(await deps.connector.node(input.cluster, target).bootstrap({}));
        return { bootstrapped: true, detail: `bootstrapped etcd on ${target.name}` };
      } catch (err) {
        if (err instanceof AlreadyBootstrappedError) return { bootstrapped: false, detail: `already bootstrapped (${target.name} answered AlreadyExists)` };
        throw err;
      }
    },

    /** Waits (up to `windowMs`) until every control plane is a voting etcd member. */
    async checkEtcdMembers(input: { cluster: string; windowMs: number; pollMs?: number }): Promise<CheckResult> {
      const spec = deps.inventory().cluster(input.cluster);
      const wanted = spec.nodes.filter((n) => n.role === 'controlplane').map((n) => n.hostname ?? n.name);
      return pollWithin(input.windowMs, async () => {
        const reply = await deps.connector.cluster(input.cluster).etcdMemberList({}).catch((err: Error) => err);
        if (reply instanceof Error) return { done: false, detail: `etcd members unknown: ${reply.message}` };
        const members = onlyValue(reply).members;
        const voting = new Set(members.filter((m) => !m.isLearner).map((m) => m.hostname));
        const missing = wanted.filter((h) => !voting.has(h));
        return missing.length === 0 ? { done: true, detail: `etcd members: ${wanted.join(', ')}` } : { done: false, detail: `waiting for ${missing.join(', ')} to join etcd` };
      }, input.pollMs);
    },

    /** Runs the cluster health check (upstream's named checks) for up to `windowMs`. */
    async checkClusterHealth(input: { cluster: string; windowMs: number }): Promise<CheckResult> {
      const health = await clusterHealth(deps.connector, deps.inventory(), input.cluster, input.windowMs, (line) => Context.current().heartbeat(line));
      return { done: health.healthy, detail: health.detail };
    },

    /** Fetches the admin kubeconfig from a control plane and stores it beside the inventory (mode 0600); returns its path only. */
    async storeKubeconfig(input: { cluster: string }): Promise<{ path: string }> {
      const inv = deps.inventory();
      const controlPlane = inv.cluster(input.cluster).nodes.find((n) => n.role === 'controlplane')!;
      const kubeconfig = await deps.connector.cluster(input.cluster).kubeconfig({ node: controlPlane.address });
      const path = inv.kubeconfigPath(input.cluster);
      mkdirSync(dirname(path), { recursive: true });
      writeFileAtomically(path, kubeconfig, { force: true, mode: 0o600 });
      return { path };
    },
  };
}
