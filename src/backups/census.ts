import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdCall, etcdServices, type EtcdServiceClient } from '../etcd/services';
import { FleetError } from '../errors';
import type { SnapshotContent } from '../shared/backups';
import { requireEtcd } from '../tools/binaries';
import { ETCD_LINES, type EtcdLine } from '../tools/catalog';
import { describeExit, runGuarded, spawnGuarded } from '../tools/children';
import { delay } from '../time';

/**
 * A census of an etcd snapshot: it is restored with the real `etcdutl` into a throwaway data directory, a real etcd
 * of the wanted version serves it on loopback for as long as the count takes, and the keys are counted page by page
 * (so memory does not grow with the keyspace). Then the member is stopped and its directory removed. This is what
 * proves a snapshot restores, not just that its bytes are intact.
 */

/** Key prefixes Kubernetes rewrites or expires on its own right after a restore: counted, but not compared exactly. */
export const VOLATILE_PREFIXES = ['/registry/events/', '/registry/masterleases/', '/registry/leases/'];

const PAGE = 1000;


interface RangeReply {
  header: { revision: string };
  kvs: { key: Buffer; create_revision: string }[];
  more: boolean;
}

/** The etcd line (`3.5`) of a version an etcd reports (`3.5.33`), if the project can run it. */
export function etcdLineOf(version: string): EtcdLine {
  const line = /^v?(\d+\.\d+)/.exec(version)?.[1];
  if (!line || !(ETCD_LINES as readonly string[]).includes(line)) {
    throw new FleetError('etcd_version_unsupported', `etcd ${version || '(unknown version)'} is not a version the project runs (${ETCD_LINES.join(', ')}): a drill needs that version's etcd and etcdutl`);
  }
  return line as EtcdLine;
}

/** The Kubernetes resource a registry key belongs to: `configmaps`, or `apps/deployments` style for API groups. */
export function registryResource(key: string): string | undefined {
  if (!key.startsWith('/registry/')) return undefined;
  const parts = key.slice('/registry/'.length).split('/');
  if (!parts[0]) return undefined;
  return parts[0].includes('.') && parts[1] ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** The etcd key Kubernetes stores a namespaced object under: `/registry/configmaps/kube-system/NAME`. */
export function registryKey(resource: string, namespace: string, name: string): string {
  return `/registry/${resource}/${namespace}/${name}`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}


/** What a census counted; `upTo` counts only keys created at or before that revision (see {@link censusOf}). */
export interface Census extends SnapshotContent {
  etcdVersion: string;
  /** With `createdUpTo`: keys (and registry keys per resource) that existed at that revision and still exist. */
  upTo?: { revision: number; keys: number; resources: Record<string, number>; volatile: number };
  /** With `readKeys`: the values of those of them that exist. */
  values?: Record<string, Buffer>;
}

/**
 * Restores `snapshotFile` into a throwaway etcd of `line` and counts its keys. With `createdUpTo` (a snapshot's
 * revision) it also counts the keys created at or before it: after a restore, those are exactly the snapshot's keys
 * that are still there, whatever Kubernetes has written since.
 */
export async function censusOf(snapshotFile: string, line: EtcdLine, opts: { createdUpTo?: number; readKeys?: string[]; heartbeat?: (detail: string) => void; signal?: AbortSignal } = {}): Promise<Census> {
  const bins = requireEtcd(line);
  const dir = mkdtempSync(join(tmpdir(), 'talos-fleet-census-'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const peer = `http://127.0.0.1:${peerPort}`;
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  let etcd: ReturnType<typeof spawnGuarded> | undefined;
  const clients: EtcdServiceClient[] = [];
  try {
    opts.heartbeat?.(`restoring the snapshot with etcdutl ${bins.version}`);
    await runGuarded(bins.etcdutl, ['snapshot', 'restore', snapshotFile, `--data-dir=${join(dir, 'data')}`, '--name=census', `--initial-cluster=census=${peer}`, `--initial-advertise-peer-urls=${peer}`], {});
    etcd = spawnGuarded(bins.etcd, ['--name=census', `--data-dir=${join(dir, 'data')}`, `--listen-client-urls=${clientUrl}`, `--advertise-client-urls=${clientUrl}`, `--listen-peer-urls=${peer}`, `--initial-advertise-peer-urls=${peer}`, `--initial-cluster=census=${peer}`, '--log-level=error'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    etcd.child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    let exited: string | undefined;
    void etcd.exited.then((e) => (exited = describeExit(e)));
    const address = `127.0.0.1:${clientPort}`;
    const kv = new etcdServices.KV(address, grpc.credentials.createInsecure());
    const maintenance = new etcdServices.Maintenance(address, grpc.credentials.createInsecure());
    clients.push(kv, maintenance);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) throw new FleetError('census_failed', `the throwaway etcd ${bins.version} exited (${exited}): ${stderr.trim().split('\n').pop() ?? ''}`);
      opts.signal?.throwIfAborted();
      const ok = await etcdCall(maintenance, 'Status', {}, 1_000).then(() => true, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new FleetError('census_failed', `the throwaway etcd ${bins.version} did not answer within 60 s`);
      await delay(100);
    }
    opts.heartbeat?.('counting keys');
    const resources: Record<string, number> = {};
    const upToResources: Record<string, number> = {};
    let keys = 0;
    let volatileKeys = 0;
    let registryKeys = 0;
    let upToKeys = 0;
    let volatile = 0;
    let revision = 0;
    let from = Buffer.from([0]);
    for (;;) {
      opts.signal?.throwIfAborted();
      const page = await etcdCall<RangeReply>(kv, 'Range', { key: from, range_end: Buffer.from([0]), limit: PAGE, keys_only: true, serializable: true, ...(revision ? { revision } : {}) }, 30_000);
      revision ||= Number(page.header.revision);
      for (const kv of page.kvs) {
        const key = kv.key.toString('utf8');
        const resource = registryResource(key);
        keys++;
        const isVolatile = VOLATILE_PREFIXES.some((p) => key.startsWith(p));
        if (isVolatile) volatileKeys++;
        if (resource) {
          registryKeys++;
          resources[resource] = (resources[resource] ?? 0) + 1;
        }
        if (opts.createdUpTo !== undefined && Number(kv.create_revision) <= opts.createdUpTo) {
          if (isVolatile) volatile++;
          else {
            upToKeys++;
            if (resource) upToResources[resource] = (upToResources[resource] ?? 0) + 1;
          }
        }
      }
      if (!page.more || page.kvs.length === 0) break;
      from = Buffer.concat([page.kvs[page.kvs.length - 1]!.key, Buffer.from([0])]);
      opts.heartbeat?.(`counted ${keys} keys`);
    }
    const values: Record<string, Buffer> = {};
    for (const key of opts.readKeys ?? []) {
      const got = await etcdCall<{ kvs: { value: Buffer }[] }>(kv, 'Range', { key: Buffer.from(key), serializable: true, revision }, 30_000);
      if (got.kvs[0]) values[key] = got.kvs[0].value;
    }
    return {
      etcdVersion: bins.version,
      revision,
      keys,
      volatileKeys,
      registry: { present: registryKeys > 0, keys: registryKeys, resources },
      ...(opts.createdUpTo !== undefined ? { upTo: { revision: opts.createdUpTo, keys: upToKeys, resources: upToResources, volatile } } : {}),
      ...(opts.readKeys ? { values } : {}),
    };
  } finally {
    for (const c of clients) c.close();
    if (etcd) {
      etcd.child.kill('SIGKILL');
      await etcd.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What `etcdutl snapshot status` of the cluster's etcd says of a snapshot file (revision, keys, size, hash). */
export async function snapshotStatus(snapshotFile: string, line: EtcdLine): Promise<{ revision: number; totalKey: number; totalSize: number; hash: number }> {
  const { stdout } = await runGuarded(requireEtcd(line).etcdutl, ['snapshot', 'status', snapshotFile, '--write-out=json']);
  return JSON.parse(stdout) as { revision: number; totalKey: number; totalSize: number; hash: number };
}
