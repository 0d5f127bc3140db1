import { createReadStream, existsSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { stringify as stringifyYaml } from 'yaml';
import { issueCertificate } from '../../config/certs';
import { ADMIN_CERT_TTL_MS } from '../../config/generate';
import { decodePair, machineCertificateAuthority } from '../../config/machineconfig';
import { parseRoles } from '../../config/roles';
import { ValidationError } from '../../errors';
import { newTalosconfig, stringifyTalosconfig } from '../../config/talosconfig';
import { fromProtoTime, packAny, toProtoTime } from '../../talos/codec';
import { Code, GrpcError } from '../grpc/server';
import { SimulatedNode } from '../node';
import { buildInfo } from '../versions';
import { actorOf, one, type Impl, type LocalCall } from './types';
import { checkDocumentKinds, resolveApplyMode } from './apply-modes';
import { skipsEtcdChecks } from '../version-rules';
import type { MachineEvent } from '../events';

/** Parts of a config that Talos applies without a reboot; a change anywhere else needs one. */
const LIVE_PATHS: string[][] = [
  ['cluster'],
  ['machine', 'network'],
  ['machine', 'certSANs'],
  ['machine', 'kubelet'],
  ['machine', 'sysctls'],
  ['machine', 'time'],
  ['machine', 'logging'],
  ['machine', 'registries'],
  ['machine', 'nodeLabels'],
  ['machine', 'nodeTaints'],
  ['machine', 'nodeAnnotations'],
  ['machine', 'files'],
  ['machine', 'env'],
];

function withoutLivePaths(doc: Record<string, unknown>): unknown {
  const copy = structuredClone(doc);
  for (const path of LIVE_PATHS) {
    let parent: Record<string, unknown> | undefined = copy;
    for (const key of path.slice(0, -1)) parent = parent?.[key] as Record<string, unknown> | undefined;
    if (parent) delete parent[path[path.length - 1]!];
  }
  return copy;
}

/** A live node's services as ServiceInfo messages. */
function serviceInfos(node: SimulatedNode) {
  return node.services.list().map((s) => ({
    id: s.id,
    state: s.state,
    events: { events: s.events.map((e) => ({ msg: e.msg, state: e.state, ts: toProtoTime(e.at) })) },
    health: { unknown: s.health.unknown, healthy: s.health.healthy, lastMessage: s.health.lastMessage, lastChange: toProtoTime(s.health.lastChange) },
  }));
}

function requireControlPlane(node: SimulatedNode, what: string): void {
  if (node.role !== 'controlplane') throw new GrpcError(Code.FAILED_PRECONDITION, `${what} is only available on control plane nodes`);
}

/** An admin kubeconfig signed by the cluster's Kubernetes CA, packed as Talos sends it (tar.gz with one `kubeconfig`). */
async function kubeconfigArchive(node: SimulatedNode): Promise<Buffer> {
  const cfg = node.config!.parsed;
  const k8sCa = cfg.cluster.ca ? decodePair(cfg.cluster.ca) : undefined;
  if (!k8sCa?.key) throw new GrpcError(Code.FAILED_PRECONDITION, 'kubeconfig can only be generated on control plane nodes with the Kubernetes CA key');
  const client = await issueCertificate({ crt: k8sCa.crt, key: k8sCa.key }, { commonName: 'admin', organizations: ['system:masters'], usage: 'client', ttlMs: ADMIN_CERT_TTL_MS });
  const name = cfg.cluster.clusterName ?? 'talos';
  const text = stringifyYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: cfg.cluster.controlPlane.endpoint, 'certificate-authority-data': cfg.cluster.ca!.crt } }],
    users: [{ name: `admin@${name}`, user: { 'client-certificate-data': Buffer.from(client.crt).toString('base64'), 'client-key-data': Buffer.from(client.key).toString('base64') } }],
    contexts: [{ context: { cluster: name, namespace: 'default', user: `admin@${name}` }, name: `admin@${name}` }],
    'current-context': `admin@${name}`,
  });
  const tar = pack();
  tar.entry({ name: 'kubeconfig', mode: 0o600 }, text);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

async function sendLines(lines: string[], send: (m: unknown) => Promise<void>): Promise<void> {
  for (const line of lines) await send({ bytes: Buffer.from(`${line}\n`) });
}

/**
 * Streams a backlog, then live items until the client goes away. The subscription starts before the backlog
 * is read, so nothing published in between is lost, and items are sent one at a time (backpressure).
 */
async function follow<T>(signal: AbortSignal, subscribe: (push: (item: T) => void) => () => void, backlog: () => T[], send: (item: T) => Promise<void>): Promise<void> {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = subscribe((item) => {
    queue.push(item);
    wake?.();
  });
  const onAbort = () => wake?.();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (const item of backlog()) await send(item);
    while (!signal.aborted) {
      if (queue.length) await send(queue.shift()!);
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    unsubscribe();
    signal.removeEventListener('abort', onAbort);
  }
}

interface ResetRequest {
  graceful: boolean;
  reboot: boolean;
  systemPartitionsToWipe: { label: string; wipe: boolean }[];
  mode: string;
}

const partitionsToWipe = (req: ResetRequest): string[] => req.systemPartitionsToWipe.filter((p) => p.wipe).map((p) => p.label);
const serviceDetails = (req: { id: string }) => ({ id: req.id });

/** MachineService methods other than etcd's, served by a configured node. */
export const machineHandlers: Record<string, Impl> = {
  Version: {
    unary: async (_req, { node }: LocalCall) =>
      one({
        version: { tag: node.version, ...buildInfo(node.version), built: '', os: 'linux', arch: 'amd64' },
        platform: { name: 'metal', mode: 'metal' },
        features: { rbac: node.rbacEnabled },
      }),
  },

  Hostname: { unary: async (_req, { node }) => one({ hostname: node.hostname }) },

  // The legacy pull, into the CRI containerd: `k8s.io` or `system` (upstream refuses any other namespace).
  ImagePull: {
    details: (req: { namespace: string; reference: string }) => ({ image: req.reference, namespace: req.namespace }),
    unary: async (req: { namespace: string; reference: string }, { node }) => {
      if (req.namespace !== 'NS_CRI' && req.namespace !== 'NS_SYSTEM') throw new GrpcError(Code.INVALID_ARGUMENT, `invalid namespace ${req.namespace}`);
      node.images.pull({ driver: 'CRI', namespace: req.namespace }, req.reference);
      return one({});
    },
  },

  Memory: {
    unary: async (_req, { node }) => {
      const total = node.role === 'controlplane' ? 4 * 1024 * 1024 : 2 * 1024 * 1024;
      return one({ meminfo: { memtotal: String(total), memfree: String(total / 2), memavailable: String((total * 3) / 4) } });
    },
  },

  LoadAvg: { unary: async () => one({ load1: 0.12, load5: 0.08, load15: 0.05 }) },

  ApplyConfiguration: {
    details: (req: { data: Buffer; mode: string; dryRun: boolean }) => ({ mode: req.mode, dryRun: req.dryRun, bytes: req.data.length }),
    unary: async (req: { data: Buffer; mode: string; dryRun: boolean; tryModeTimeout?: { seconds: string; nanos: number } | null }, { node }) => {
      const yaml = req.data.toString('utf8');
      checkDocumentKinds(yaml, node.profile);
      const next = SimulatedNode.validateConfig(yaml, 'machine config');
      const current = node.config!.parsed;
      if (next.machine.type !== current.machine.type) {
        throw new GrpcError(Code.INVALID_ARGUMENT, `machine type can't be changed: "${current.machine.type}" → "${next.machine.type}"`);
      }
      const needsReboot = !isDeepStrictEqual(withoutLivePaths(current.raw), withoutLivePaths(next.raw));
      // The node's version decides (1.14: REBOOT refused, AUTO never reboots): src/releases/profiles.ts.
      const mode = resolveApplyMode(node.profile, req.mode, needsReboot);
      const modeDetails: Record<string, string> = {
        REBOOT: 'Applied configuration with a reboot',
        NO_REBOOT: 'Applied configuration without a reboot',
        STAGED: 'Staged configuration to be applied after the next reboot',
        TRY: `Applied configuration without a reboot; it will be rolled back in ${fromProtoTime(req.tryModeTimeout) || 60_000} ms unless applied again`,
      };
      const details = modeDetails[mode] ?? '';
      if (req.dryRun) {
        return one({ warnings: [], mode, modeDetails: `Dry run summary:\n${details} (skipped in dry-run).\n` });
      }
      if (mode === 'REBOOT') node.assertIdle('ApplyConfiguration with a reboot');
      node.applyConfig(yaml, mode as 'REBOOT', fromProtoTime(req.tryModeTimeout) || 60_000);
      return one({ warnings: [], mode, modeDetails: details });
    },
  },

  Bootstrap: {
    details: (req: { recoverEtcd: boolean; recoverSkipHashCheck: boolean }) => ({ recoverEtcd: req.recoverEtcd, recoverSkipHashCheck: req.recoverSkipHashCheck }),
    unary: async (req: { recoverEtcd: boolean; recoverSkipHashCheck: boolean }, { node }) => {
      await node.bootstrap(req.recoverEtcd, req.recoverSkipHashCheck);
      return one({});
    },
  },

  Upgrade: {
    details: (req: { image: string; stage: boolean; force: boolean; preserve: boolean; rebootMode: string }) => ({ image: req.image, stage: req.stage, force: req.force, preserve: req.preserve, rebootMode: req.rebootMode }),
    unary: async (req: { image: string; stage: boolean; force: boolean; preserve: boolean }, call) => {
      call.node.assertIdle('Upgrade');
      await call.node.upgrade(req.image, skipsEtcdChecks(call.node, req.force, req.preserve), req.stage, actorOf(call));
      return one({ ack: 'Upgrade request received', actorId: actorOf(call) });
    },
  },

  Rollback: {
    unary: async (_req, { node }) => {
      node.assertIdle('Rollback');
      node.rollback();
      return one({});
    },
  },

  Reboot: {
    details: (req: { mode: string }) => ({ mode: req.mode }),
    unary: async (_req, call) => {
      call.node.assertIdle('Reboot');
      call.node.reboot(actorOf(call));
      return one({ actorId: actorOf(call) });
    },
  },

  Shutdown: {
    details: (req: { force: boolean }) => ({ force: req.force }),
    unary: async (_req, call) => {
      call.node.assertIdle('Shutdown');
      call.node.shutdown(actorOf(call));
      return one({ actorId: actorOf(call) });
    },
  },

  Reset: {
    details: (req: ResetRequest) => ({ graceful: req.graceful, reboot: req.reboot, systemPartitionsToWipe: partitionsToWipe(req), mode: req.mode }),
    unary: async (req: ResetRequest, call) => {
      const wipe = partitionsToWipe(req);
      const unknown = wipe.filter((l) => !['STATE', 'EPHEMERAL', 'META'].includes(l));
      if (unknown.length) throw new GrpcError(Code.INVALID_ARGUMENT, `unknown system partition labels: ${unknown.join(', ')} (known: STATE, EPHEMERAL, META)`);
      call.node.assertIdle('Reset');
      call.node.reset({ graceful: req.graceful, reboot: req.reboot, wipe }, actorOf(call));
      return one({ actorId: actorOf(call) });
    },
  },

  ServiceList: { unary: async (_req, { node }) => one({ services: serviceInfos(node) }) },

  ServiceStart: { details: serviceDetails, unary: async (req: { id: string }, call) => one({ resp: await controlService(call.node, req.id, 'start') }) },
  ServiceStop: { details: serviceDetails, unary: async (req: { id: string }, call) => one({ resp: await controlService(call.node, req.id, 'stop') }) },
  ServiceRestart: { details: serviceDetails, unary: async (req: { id: string }, call) => one({ resp: await controlService(call.node, req.id, 'restart') }) },

  Logs: {
    stream: async (req: { namespace: string; id: string; follow: boolean; tailLines: number }, { node, ctx }, send) => {
      const buffer = node.logs.get(req.id);
      if (!buffer) throw new GrpcError(Code.NOT_FOUND, `log "${req.id}" was not registered`);
      if (!req.follow) return sendLines(buffer.tail(req.tailLines), send);
      await follow<string>(ctx.signal, (push) => buffer.follow(push), () => buffer.tail(req.tailLines), (line) => sendLines([line], send));
    },
  },

  Dmesg: {
    stream: async (req: { follow: boolean; tail: boolean }, { node, ctx }, send) => {
      const backlog = () => (req.tail ? [] : node.kernelLog.tail(-1));
      if (!req.follow) return sendLines(backlog(), send);
      await follow<string>(ctx.signal, (push) => node.kernelLog.follow(push), backlog, (line) => sendLines([line], send));
    },
  },

  Events: {
    stream: async (req: { tailEvents: number; tailId: string; tailSeconds: number; withActorId: string }, { node, ctx }, send) => {
      await follow<MachineEvent>(
        ctx.signal,
        (push) => node.events.subscribe((e) => (!req.withActorId || e.actorId === req.withActorId) && push(e)),
        () => node.events.history({ tailEvents: req.tailEvents, tailId: req.tailId, tailSeconds: req.tailSeconds, actorId: req.withActorId }),
        (e) => send({ data: packAny(e.type, e.payload), id: e.id, actorId: e.actorId }),
      );
    },
  },

  Read: {
    stream: async (req: { path: string }, { node }, send) => {
      // The files talosctl reads: the boot id (to tell that a reboot happened) and the OS release.
      const files: Record<string, string> = {
        '/proc/sys/kernel/random/boot_id': `${node.bootId}\n`,
        '/etc/os-release': `NAME="Talos"\nID=talos\nVERSION_ID=${node.version}\nPRETTY_NAME="Talos (${node.version})"\n`,
        '/proc/sys/kernel/hostname': `${node.hostname}\n`,
      };
      // And the snapshot EtcdRecover uploaded, which a recovery reads back to tell whether its upload completed.
      if (req.path === '/var/lib/etcd.snapshot' && node.etcd) {
        if (!existsSync(node.etcd.recoverySnapshotPath)) throw new GrpcError(Code.NOT_FOUND, `open ${req.path}: no such file or directory`);
        for await (const chunk of createReadStream(node.etcd.recoverySnapshotPath, { highWaterMark: 64 * 1024 })) await send({ bytes: chunk as Buffer });
        return;
      }
      const content = files[req.path];
      if (content === undefined) throw new GrpcError(Code.NOT_FOUND, `open ${req.path}: no such file or directory`);
      await send({ bytes: Buffer.from(content) });
    },
  },

  Kubeconfig: {
    stream: async (_req, { node }, send) => {
      requireControlPlane(node, 'kubeconfig');
      await send({ bytes: await kubeconfigArchive(node) });
    },
  },

  GenerateClientConfiguration: {
    details: (req: { roles: string[]; crtTtl?: { seconds: string; nanos: number } | null }) => ({ roles: req.roles, crtTtlMs: fromProtoTime(req.crtTtl) }),
    unary: async (req: { roles: string[]; crtTtl?: { seconds: string; nanos: number } | null }, { node }) => {
      requireControlPlane(node, 'client configuration generation');
      let roles;
      try {
        roles = parseRoles(req.roles);
      } catch (err) {
        throw new GrpcError(Code.INVALID_ARGUMENT, (err as ValidationError).message);
      }
      const ttlMs = fromProtoTime(req.crtTtl);
      if (ttlMs <= 0) throw new GrpcError(Code.INVALID_ARGUMENT, 'crt_ttl should be positive');
      const ca = machineCertificateAuthority(node.config!.parsed);
      const client = await issueCertificate(ca, { organizations: roles, usage: 'client', ttlMs });
      const talosconfig = newTalosconfig(node.config!.parsed.cluster.clusterName ?? 'talos', [], ca.crt, client);
      return one({ ca: Buffer.from(ca.crt), crt: Buffer.from(client.crt), key: Buffer.from(client.key), talosconfig: Buffer.from(stringifyTalosconfig(talosconfig)) });
    },
  },
};

/** Start, stop or restart a service; etcd keeps its data and membership across a restart. */
async function controlService(node: SimulatedNode, id: string, action: 'start' | 'stop' | 'restart'): Promise<string> {
  const s = node.services.get(id);
  if (!s) throw new GrpcError(Code.NOT_FOUND, `service "${id}" not found`);
  if (id === 'etcd' && node.etcd) {
    if (action !== 'start') await node.etcd.stop();
    // The node may have lost power or begun a reboot while etcd stopped: then nothing may start on it.
    if (action !== 'stop') {
      node.assertRunning(`starting service "${id}"`);
      node.etcd.start();
    }
  } else {
    if (action !== 'start') node.services.transition(id, 'Finished', 'Service finished successfully');
    if (action !== 'stop') {
      node.services.transition(id, 'Running', 'Service started as goroutine');
      node.services.setHealth(id, true);
    }
  }
  return `Service "${id}" ${action === 'start' ? 'started' : action === 'stop' ? 'stopped' : 'restarted'}`;
}
