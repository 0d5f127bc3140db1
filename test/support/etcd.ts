import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EtcdClient } from '../../src/simulator/etcd/client';
import { requireEtcd } from '../../src/tools/binaries';
import type { EtcdLine } from '../../src/tools/catalog';
import { runGuarded, spawnGuarded } from '../../src/tools/children';
import { freePort } from './temporal';

/** A real single-member etcd of one line for a test, with a client. */
export interface TestEtcd {
  client: EtcdClient;
  clientUrl: string;
  /** Saves a snapshot with the real etcdctl (the file etcd streams: bbolt database plus SHA-256 trailer). */
  snapshot(path: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts etcd in `dir` on free loopback ports and waits for it to answer. */
export async function startTestEtcd(dir: string, line: EtcdLine = '3.5'): Promise<TestEtcd> {
  const bins = requireEtcd(line);
  mkdirSync(dir, { recursive: true });
  const [cp, pp] = [await freePort(), await freePort()];
  const clientUrl = `http://127.0.0.1:${cp}`;
  const peer = `http://127.0.0.1:${pp}`;
  const etcd = spawnGuarded(bins.etcd, ['--name=t', `--data-dir=${join(dir, 'data')}`, `--listen-client-urls=${clientUrl}`, `--advertise-client-urls=${clientUrl}`, `--listen-peer-urls=${peer}`, `--initial-advertise-peer-urls=${peer}`, `--initial-cluster=t=${peer}`, '--log-level=error'], { stdio: 'ignore' });
  const client = new EtcdClient(clientUrl, 10_000);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.status(1_000);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    client,
    clientUrl,
    async snapshot(path) {
      await runGuarded(bins.etcdctl, [`--endpoints=${clientUrl}`, 'snapshot', 'save', path], { env: { ...process.env, ETCDCTL_API: '3' } });
    },
    async stop() {
      client.close();
      etcd.child.kill('SIGKILL');
      await etcd.exited;
    },
  };
}

/** Writes `count` keys `PREFIX000000`, `PREFIX000001`, ... into the etcd at `endpoint`, a hundred at a time. */
export async function putKeys(endpoint: string, count: number, prefix: string): Promise<void> {
  const etcd = new EtcdClient(endpoint, 30_000);
  try {
    for (let i = 0; i < count; i += 100) await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, j) => etcd.put(`${prefix}${String(i + j).padStart(6, '0')}`, Buffer.from(`value ${i + j}`))));
  } finally {
    etcd.close();
  }
}

/** Keys under a prefix, counted by the real etcdctl against the member at `endpoint`. */
export function countKeys(endpoint: string, prefix: string, line: EtcdLine = '3.5'): number {
  const out = execFileSync(requireEtcd(line).etcdctl, [`--endpoints=${endpoint}`, 'get', prefix, '--prefix', '--count-only', '--write-out=fields'], { env: { ...process.env, ETCDCTL_API: '3' } }).toString();
  return Number(/"Count" : (\d+)/.exec(out)?.[1] ?? NaN);
}
