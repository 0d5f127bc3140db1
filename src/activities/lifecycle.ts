import { Context } from '@temporalio/activity';
import type { NodeSpec } from '../fleet/schema';
import { drainNode, type DrainResult } from '../kubernetes/drain';
import { nodeReadiness, uncordonNode } from '../kubernetes/nodes';
import type { TalosApi } from '../talos/api';
import { InstallerFailedError } from '../talos/installer';
import { onlyValue } from '../talos/replies';
import { pollWithin, type CheckResult } from './checks';
import type { ActivityDeps } from './deps';
import { clusterKubernetes } from './kubernetes-access';
import { permanent, reportProgress, transient } from './failures';
import { moment, rebootingSince, type NodeMoment } from './upgrade';

/**
 * The Talos 1.13+ upgrade as talosctl 1.13+ does it for a node on that version (talos-lines.md §1): the orchestrator
 * pulls the installer (ImageService.Pull), runs it (LifecycleService.Upgrade, which only writes the other boot
 * slot), drains the Node through the Kubernetes API, reboots the node itself, and uncordons the Node once it is
 * Ready on the new version. The etcd quorum guard is the workflow's (the new API has none). Each step reads the
 * world first, so a retry after a lost reply never repeats what must happen once (the reboot).
 */
export function lifecycleActivities(deps: ActivityDeps) {
  const spec = (cluster: string, node: string) => deps.inventory().node(cluster, node);
  const signal = () => Context.current().cancellationSignal;

  /** The node's Kubernetes name (COSI Nodenames, what talosctl cordons), falling back to its hostname. */
  const nodeName = async (client: TalosApi, node: NodeSpec): Promise<string> => {
    const spec = await client.nodename({ node: node.address });
    if (spec?.nodename) return spec.nodename;
    return onlyValue(await client.hostname({ node: node.address })).hostname;
  };

  /** A node in a new boot since `before`, or on the target already, is past its install: nothing to do again. */
  const pastInstall = (now: NodeMoment, before: NodeMoment, to: string): string | undefined => {
    if (now.version === to) return `already on ${to}`;
    if (now.bootId !== before.bootId) return `rebooted since (now stage ${now.stage} on ${now.version})`;
    return undefined;
  };

  return {
    /** ImageService.Pull of the installer into the containerd instance the installer runs from; pulling twice is harmless. */
    async pullInstaller(input: { cluster: string; node: string; image: string; timeoutMs: number }): Promise<{ detail: string }> {
      const node = spec(input.cluster, input.node);
      const client = deps.connector.cluster(input.cluster);
      const name = await client.imagePull({ image: input.image, onProgress: (p) => reportProgress({ pull: p }) }, { node: node.address }, { timeoutMs: input.timeoutMs, signal: signal() });
      return { detail: `pulled ${name}` };
    },

    /**
     * LifecycleService.Upgrade: runs the installer, which writes the other boot slot and leaves the node running. A
     * node already rebooted since `before` (or on the target) is past this step. Running the installer again before
     * the reboot (a retry after a lost reply) only writes the same slot again. A failed installer is permanent unless
     * its exit class says a retry can succeed; the node still runs its old version either way.
     */
    async runInstaller(input: { cluster: string; node: string; image: string; to: string; before: NodeMoment; timeoutMs: number }): Promise<{ installed: boolean; detail: string }> {
      const node = spec(input.cluster, input.node);
      const client = deps.connector.cluster(input.cluster);
      const now = await moment(client, node).catch((err: Error) => err);
      if (now instanceof Error) throw transient('NodeUnreachable', `${node.name} does not answer before its install: ${now.message}`);
      const past = pastInstall(now, input.before, input.to);
      if (past) return { installed: false, detail: past };
      let last = '';
      try {
        for await (const p of client.lifecycleUpgrade({ image: input.image }, { node: node.address }, { timeoutMs: input.timeoutMs, signal: signal() })) {
          if (p.line !== undefined) {
            last = p.line;
            reportProgress({ installer: p.line });
          }
        }
      } catch (err) {
        if (err instanceof InstallerFailedError) {
          if (err.retryable) throw transient('InstallerFailed', err.message);
          throw permanent('InstallerFailed', err.message);
        }
        throw err;
      }
      return { installed: true, detail: last || `installed ${input.image}` };
    },

    /**
     * Cordons the node's Node and evicts its pods as the PodDisruptionBudgets allow (talosctl's client-side drain,
     * `--drain-timeout`). A drain still blocked after `timeoutMs` is the node's failure: the Node is uncordoned again
     * (talosctl leaves it cordoned, but the run may now wait hours at its decision gate, and the node keeps running
     * its old version) and the workflow asks what to do; retry drains again. Idempotent.
     */
    async drainForUpgrade(input: { cluster: string; node: string; timeoutMs: number; retryMs: number }): Promise<{ detail: string; drained: Pick<DrainResult, 'evicted' | 'blockedEvictions'> }> {
      const node = spec(input.cluster, input.node);
      const client = deps.connector.cluster(input.cluster);
      const name = await nodeName(client, node);
      const k8s = await clusterKubernetes(deps, input.cluster, { except: node.name });
      try {
        const result = await drainNode(k8s.core, name, { timeoutMs: input.timeoutMs, retryMs: input.retryMs, signal: signal(), onProgress: (e) => reportProgress({ drain: e }) });
        const detail = `drained Node ${name}: ${result.evicted.length} pod(s) evicted${result.blockedEvictions ? ` (${result.blockedEvictions} eviction(s) held back by a PodDisruptionBudget first)` : ''}`;
        return { detail, drained: { evicted: result.evicted, blockedEvictions: result.blockedEvictions } };
      } catch (err) {
        if ((err as { code?: string }).code === 'drain_timeout') {
          await uncordonNode(k8s.core, name);
          throw permanent('DrainTimeout', `${(err as Error).message.replace(/; the Node stays cordoned$/, '')}; Node ${name} was uncordoned again`);
        }
        throw err;
      }
    },

    /** Reboot, exactly once: a node in a new boot since `before`, or rebooting now, already has it. */
    async rebootForUpgrade(input: { cluster: string; node: string; before: NodeMoment }): Promise<{ sent: boolean; detail: string }> {
      const node = spec(input.cluster, input.node);
      const client = deps.connector.cluster(input.cluster);
      const stage = await rebootingSince(client, node, input.before, 'its reboot');
      if (stage) return { sent: false, detail: `already rebooting (stage ${stage})` };
      onlyValue(await client.reboot({}, { node: node.address }));
      return { sent: true, detail: 'rebooting into the new image' };
    },

    /**
     * Waits (up to `windowMs`) for the node's Node to be Ready in the node's current boot (the kubelet reports the
     * boot id: a Ready status from before the reboot does not count), then uncordons it (idempotent).
     */
    async uncordonWhenReady(input: { cluster: string; node: string; windowMs: number; pollMs?: number }): Promise<CheckResult> {
      const node = spec(input.cluster, input.node);
      const client = deps.connector.cluster(input.cluster);
      const name = await nodeName(client, node);
      const k8s = await clusterKubernetes(deps, input.cluster);
      const ready = await pollWithin(
        input.windowMs,
        async () => {
          const [r, now] = await Promise.all([nodeReadiness(k8s.core, name).catch((err: Error) => err), moment(client, node).catch((err: Error) => err)]);
          if (r instanceof Error) return { done: false, detail: `Node ${name}: ${r.message}` };
          if (now instanceof Error) return { done: false, detail: `${node.name} does not answer: ${now.message}` };
          if (r.bootId && r.bootId !== now.bootId) return { done: false, detail: `Node ${name} still reports the boot before the reboot` };
          return r.ready ? { done: true, detail: `Node ${name} is Ready` } : { done: false, detail: `Node ${name}: ${r.notReadyReason ?? 'not Ready'}` };
        },
        input.pollMs,
      );
      if (!ready.done) return ready;
      await uncordonNode(k8s.core, name);
      return { done: true, detail: `Node ${name} is Ready and uncordoned` };
    },
  };
}
