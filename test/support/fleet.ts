import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SecretsBundle } from '../../src/config/secrets';
import { parseNodeCounts, SimulatedFleet } from '../../src/simulator/fleet';
import { TalosClient } from '../../src/talos/client';
import { contextIdentity, type ClientIdentity, type Talosconfig } from '../../src/config/talosconfig';

/** Held while a fleet with a real Kubernetes runs (see {@link kubernetesSlot}). */
const KUBERNETES_SLOT = join(tmpdir(), 'talos-fleet-test-kubernetes.slot');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * One real Kubernetes at a time across the test run's jest workers: two clusters of kube-apiservers, controller
 * managers, schedulers and kwok on two cores starve each other (leases lapse, API servers answer late), which no
 * assertion about the product should depend on. A directory is the lock (mkdir is
 * atomic); one whose holder died is taken over. Resolves with its release.
 */
async function kubernetesSlot(timeoutMs = 15 * 60_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(KUBERNETES_SLOT);
      writeFileSync(join(KUBERNETES_SLOT, 'pid'), String(process.pid));
      const release = () => rmSync(KUBERNETES_SLOT, { recursive: true, force: true });
      process.once('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = 0;
    try {
      holder = Number(readFileSync(join(KUBERNETES_SLOT, 'pid'), 'utf8'));
    } catch {
      // Just taken: its holder is writing its pid.
    }
    if (holder && !alive(holder)) rmSync(KUBERNETES_SLOT, { recursive: true, force: true });
    if (Date.now() > deadline) throw new Error(`another test's real Kubernetes held ${KUBERNETES_SLOT} for more than ${timeoutMs / 60_000} min`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Fast simulated time for tests: a 15 s boot takes 150 ms. */
export const TEST_TIME_SCALE = 0.01;

/**
 * A loopback /24 of our own for each fleet: jest workers run test files in parallel, so the second octet
 * is the worker and the third is random, keeping fleets of concurrent files apart.
 */
function baseAddress(): string {
  const worker = Number(process.env.JEST_WORKER_ID ?? '1');
  return `127.${100 + worker}.${1 + Math.floor(Math.random() * 250)}.11`;
}

export interface TestFleet {
  fleet: SimulatedFleet;
  dir: string;
  talosconfig?: Talosconfig;
  identity?: ClientIdentity;
  /** The address of a node by name. */
  addr(name: string): string;
  /** A client through the given endpoints (the first control plane by default), authenticated as admin. */
  client(endpoints?: string[]): TalosClient;
  stop(): Promise<void>;
}

/**
 * Starts a simulated fleet in a temporary directory; `bootstrapped` installs it (with `secrets` when given) and
 * bootstraps etcd first; `versions` mixes Talos versions by node name. Without `kubernetes: 'real'` it runs no
 * Kubernetes processes (the lightweight model): most tests need none, and each real control plane costs about half
 * a GiB and a share of the two cores.
 */
export async function startFleet(opts: {
  nodes: string;
  state: 'maintenance' | 'bootstrapped';
  version?: string;
  versions?: Record<string, string>;
  secrets?: SecretsBundle;
  clusterName?: string;
  kubernetes?: 'real' | 'none';
  /** The Kubernetes version of the generated configs (the Talos version's default when absent). */
  kubernetesVersion?: string;
}): Promise<TestFleet> {
  const releaseSlot = opts.kubernetes === 'real' ? await kubernetesSlot() : () => undefined;
  const dir = mkdtempSync(join(tmpdir(), 'talos-fleet-test-'));
  // `versions` gives single nodes their own Talos version (a mixed-version fleet), by name.
  const nodes = parseNodeCounts(opts.nodes, baseAddress()).map((n) => (opts.versions?.[n.name] ? { ...n, version: opts.versions[n.name] } : n));
  const fleet = new SimulatedFleet({ dir, nodes, timeScale: TEST_TIME_SCALE, kubernetes: opts.kubernetes ?? 'none', ...(opts.version ? { version: opts.version } : {}) });
  const clients: TalosClient[] = [];
  let talosconfig: Talosconfig | undefined;
  try {
    if (opts.state === 'bootstrapped') talosconfig = await fleet.provisionCluster({ clusterName: opts.clusterName ?? 'test', ...(opts.secrets ? { secrets: opts.secrets } : {}), ...(opts.kubernetesVersion ? { kubernetesVersion: opts.kubernetesVersion } : {}) });
    await fleet.start();
    if (talosconfig) await fleet.bootstrapCluster(talosconfig);
  } catch (err) {
    await fleet.stop();
    releaseSlot();
    throw err;
  }
  const identity = talosconfig ? contextIdentity(talosconfig).identity : undefined;
  return {
    fleet,
    dir,
    talosconfig,
    identity,
    addr: (name) => fleet.node(name).spec.address,
    client(endpoints = [fleet.nodes()[0]!.spec.address]) {
      if (!identity) throw new Error('this fleet has no admin identity (it was started in maintenance mode)');
      const c = TalosClient.withIdentity(identity, { endpoints, timeoutMs: 10_000 });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.close();
      try {
        await fleet.stop();
      } finally {
        releaseSlot();
      }
      // TALOS_FLEET_KEEP_TEST_DIRS=1 keeps the nodes' disks and logs (kwok, etcd, the API servers) to read after a failure.
      if (process.env.TALOS_FLEET_KEEP_TEST_DIRS === '1') process.stderr.write(`kept the fleet's directory: ${dir}\n`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until `condition` holds, polling; fails with `what` after the deadline. Never a bare sleep.
 * An error thrown by the condition ends the wait at once: a refusal that retrying cannot fix must fail the test
 * now, not after the deadline. Conditions that poll a node that may be down wrap themselves in {@link whileRetryable}.
 */
export async function waitUntil(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A condition for {@link waitUntil} that counts a retryable error (node rebooting, deadline) as "not yet" and
 * rethrows the rest; `notYet` names other errors that are expected while waiting.
 */
export function whileRetryable(condition: () => boolean | Promise<boolean>, notYet: (err: unknown) => boolean = () => false): () => Promise<boolean> {
  return async () => {
    try {
      return await condition();
    } catch (err) {
      if ((err as { retryable?: unknown }).retryable === true || notYet(err)) return false;
      throw err;
    }
  };
}

/** Collects an async iterable. */
export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}
