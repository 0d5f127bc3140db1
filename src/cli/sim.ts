import type { Command } from 'commander';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { FleetError } from '../errors';
import { controlSocketPath, fetchStatus, injectFault, serveControl } from '../simulator/control';
import { FAULTS, POWER_CUT_POINTS } from '../simulator/faults';
import { DEFAULT_TALOS_VERSION, parseNodeCounts, SimulatedFleet, type FleetNodeSpec, type NodeStatus } from '../simulator/fleet';
import { loadTalosconfig, writeTalosconfig } from '../talos/talosconfig';
import { profileFor } from '../releases/profiles';
import { stopOnSignals } from './signals';

interface UpOptions {
  nodes: string;
  nodeVersion: string[];
  dir: string;
  state: string;
  version: string;
  timeScale: string;
  baseAddress: string;
  port?: string;
  clusterName: string;
  kubernetes: string;
}

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!(n > 0)) throw new FleetError('invalid_option', `${name} must be a positive number, got "${text}"`);
  return n;
}

/** An admin kubeconfig as the Talos Kubeconfig RPC mints it (the same CA, user and endpoint), as DIR/kubeconfig. */
async function writeKubeconfig(dir: string, fleet: SimulatedFleet): Promise<string> {
  const first = fleet.nodes().find((n) => n.role === 'controlplane')!;
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, await fleet.kubernetes!.adminKubeconfig(first), { mode: 0o600 });
  return path;
}

/** `--node-version NAME=VERSION`: a mixed-version fleet, each such node on its own Talos version. */
function withNodeVersions(nodes: FleetNodeSpec[], specs: string[]): FleetNodeSpec[] {
  const versions = new Map<string, string>();
  for (const spec of specs) {
    const [name, version] = spec.split('=', 2);
    if (!name || !version || !nodes.some((n) => n.name === name)) {
      throw new FleetError('invalid_option', `--node-version ${spec}: expected NAME=VERSION with NAME one of ${nodes.map((n) => n.name).join(', ')}`);
    }
    profileFor(version);
    versions.set(name, version);
  }
  return nodes.map((n) => (versions.has(n.name) ? { ...n, version: versions.get(n.name)! } : n));
}

/** Runs a fleet in the foreground until SIGINT/SIGTERM. */
async function up(opts: UpOptions): Promise<void> {
  if (opts.state !== 'maintenance' && opts.state !== 'bootstrapped') {
    throw new FleetError('invalid_option', `--state must be maintenance or bootstrapped, got "${opts.state}"`);
  }
  if (opts.kubernetes !== 'real' && opts.kubernetes !== 'none') throw new FleetError('invalid_option', `--kubernetes must be real or none, got "${opts.kubernetes}"`);
  if (!/^v\d+\.\d+\.\d+/.test(opts.version)) throw new FleetError('invalid_option', `--version must be a Talos version such as v1.14.1, got "${opts.version}"`);
  // Each minor 1.9-1.14 runs with its own behaviour (src/releases/profiles.ts); others are refused here.
  profileFor(opts.version);
  const dir = resolve(opts.dir);
  const socket = controlSocketPath(dir);
  const manifestPath = join(dir, 'sim.json');
  const nodes = withNodeVersions(parseNodeCounts(opts.nodes, opts.baseAddress, opts.port === undefined ? undefined : positive('--port', opts.port)), opts.nodeVersion);
  const timeScale = positive('--time-scale', opts.timeScale);
  // Set once we hold the directory's lock: only then are sim.json and the socket ours to remove.
  let owner = false;
  const signals = stopOnSignals({
    stopping: 'the simulated fleet',
    onForcedExit: () => {
      if (!owner) return;
      rmSync(manifestPath, { force: true });
      rmSync(socket, { force: true });
    },
  });
  try {
    // Takes the directory's lock: a second fleet is refused here, before it touches the running one's files.
    const fleet = new SimulatedFleet({ dir, nodes, version: opts.version, timeScale, kubernetes: opts.kubernetes });
    owner = true;
    let control: Server | undefined;
    try {
      const talosconfigPath = join(dir, 'talosconfig');
      let kubeconfigPath: string | undefined;
      const resuming = fleet.isProvisioned();
      let talosconfig = resuming && existsSync(talosconfigPath) ? loadTalosconfig(talosconfigPath) : undefined;
      if (opts.state === 'bootstrapped' && !resuming) {
        talosconfig = await fleet.provisionCluster({ clusterName: opts.clusterName });
        writeTalosconfig(talosconfigPath, talosconfig, { force: true });
      }
      control = await serveControl(fleet, socket);
      process.stderr.write(`${resuming ? 'resuming' : 'starting'} ${fleet.nodes().length} simulated nodes in ${dir} (time scale ${fleet.clock.timeScale})\n`);
      await fleet.start({ signal: signals.signal });
      if (opts.state === 'bootstrapped' && talosconfig) {
        process.stderr.write('every node listens; waiting for etcd and for every node to be ready\n');
        await fleet.bootstrapCluster(talosconfig, { signal: signals.signal });
        if (fleet.kubernetes) kubeconfigPath = await writeKubeconfig(dir, fleet);
      }
      fleet.writeManifest({ control: socket, ...(talosconfig ? { talosconfig: talosconfigPath } : {}) });
      const lines = fleet.status().map((n) => `  ${n.name.padEnd(6)} ${n.role.padEnd(12)} ${n.address}:${n.port}  ${n.stage}`);
      process.stderr.write(
        `simulated fleet ${resuming ? 'resumed' : 'up'} in ${dir} (time scale ${fleet.clock.timeScale}):\n${lines.join('\n')}\n` +
          (talosconfig ? `talosconfig: ${talosconfigPath}  (export TALOSCONFIG=${talosconfigPath})\n` : 'nodes wait in maintenance mode for a machine configuration\n') +
          (kubeconfigPath ? `kubeconfig: ${kubeconfigPath}  (export KUBECONFIG=${kubeconfigPath})\n` : '') +
          'press Ctrl-C to stop\n',
      );
      await signals.received;
    } finally {
      // sim.json and the socket go while we still hold the lock: after it, they may be the next fleet's.
      rmSync(manifestPath, { force: true });
      if (control) await new Promise<void>((r) => control!.close(() => r()));
      rmSync(socket, { force: true });
      owner = false;
      await fleet.stop();
    }
  } finally {
    signals.dispose();
  }
}

function printStatus(nodes: NodeStatus[]): void {
  const rows = nodes.map((n) => [n.name, n.role, `${n.address}:${n.port}`, n.stage, n.ready ? 'yes' : 'no', n.version, n.bootId.slice(0, 8), n.etcd ? `${n.etcd.state}${n.etcd.memberIdHex ? ` ${n.etcd.memberIdHex}` : ''}${n.etcd.healthy ? ' healthy' : ''}` : '-', String(n.record.length)]);
  const header = ['NAME', 'ROLE', 'ADDRESS', 'STAGE', 'READY', 'VERSION', 'BOOT', 'ETCD', 'CALLS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows]) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
  for (const n of nodes.filter((x) => x.failure)) process.stdout.write(`${n.name}: ${n.failure}\n`);
}

/** `talos-fleet sim ...`: run and steer a simulated Talos fleet. */
export function registerSim(program: Command): void {
  const sim = program.command('sim').description('Run and steer a simulated Talos fleet on loopback addresses (real gRPC, mTLS and etcd).');

  sim
    .command('up')
    .description('Start a simulated fleet and run it in the foreground until interrupted.')
    .option('--nodes <counts>', 'how many control planes and workers, e.g. 3cp,2w', '3cp,2w')
    .option('--dir <dir>', 'directory for the nodes\' disks, etcd data, sim.json and talosconfig', '.sim')
    .option('--state <state>', 'maintenance (waiting for apply-config) or bootstrapped (installed, etcd bootstrapped)', 'bootstrapped')
    .option('--version <version>', 'Talos version the nodes run (any of 1.9-1.14, each with that minor\'s behaviour)', DEFAULT_TALOS_VERSION)
    .option('--node-version <name=version>', 'one node on its own Talos version, e.g. w-1=v1.14.1 (repeatable: a mixed-version fleet)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--time-scale <factor>', 'multiplies simulated durations: 1 is realistic, 0.01 is 100x faster', '1')
    .option('--base-address <ip>', 'loopback address of the first node; the others follow', '127.0.0.11')
    .option('--port <port>', 'Talos API port of every node (default 50000)')
    .option('--cluster-name <name>', 'cluster name for --state bootstrapped', 'sim')
    .option('--kubernetes <mode>', 'real: a real kube-apiserver, controller manager and scheduler per control plane and kwok kubelets (about 0.5 GiB per control plane); none: a lightweight model', 'real')
    .action((opts: UpOptions) => up(opts));

  sim
    .command('status')
    .description('Show each node\'s stage, version, boot id, etcd member and the mutating calls it received.')
    .option('--dir <dir>', 'directory of the running fleet', '.sim')
    .option('--json', 'print JSON (includes every node\'s call record)', false)
    .action(async (opts: { dir: string; json: boolean }) => {
      const nodes = await fetchStatus(resolve(opts.dir));
      if (opts.json) process.stdout.write(`${JSON.stringify(nodes, null, 2)}\n`);
      else printStatus(nodes);
    });

  sim
    .command('fault')
    .description(`Inject a fault into a node: ${FAULTS.join(', ')}; slow-reboot=FACTOR; down@POINT cuts the power when the node next reaches POINT (${POWER_CUT_POINTS.join(', ')}).`)
    .argument('<node>', 'node name or address')
    .argument('<fault>', 'the fault')
    .option('--dir <dir>', 'directory of the running fleet', '.sim')
    .action(async (node: string, fault: string, opts: { dir: string }) => {
      await injectFault(resolve(opts.dir), node, fault);
      process.stderr.write(`${fault} injected into ${node}\n`);
    });
}
