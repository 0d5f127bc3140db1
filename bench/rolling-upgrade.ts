// Orchestration overhead of a rolling Talos upgrade: the time a run takes beyond what the nodes themselves need.
// A benchmark, not a test: it prints figures (docs/benchmarks.md keeps them).
//
//   npx ts-node --transpile-only bench/rolling-upgrade.ts [--nodes 3cp,3w] [--time-scale 0.05] [--runs 2]
//        [--base-address 127.0.210.11] [--talosctl PATH]
//
// A simulated fleet (real gRPC, mTLS and etcd) with a fixed simulated reboot time, a Temporal dev server and a
// worker in this process, gates off. Each run upgrades every node one patch release further. The ideal is the sum
// of the nodes' own upgrade times as the simulator measures them: from the node receiving Upgrade to its
// MachineStatus reporting running and ready on the new boot. The overhead is the run's wall time, from the start
// of the first node to the end of the last one, minus that sum. Where a talosctl binary is available (--talosctl,
// $TALOSCTL, or `npm run tools -- --with talosctl`), a `talosctl upgrade --wait` loop over the same nodes, one after
// another, is measured the same way in the same run.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { generateSecretsBundle } from '../src/config/secrets';
import { writeTalosconfig } from '../src/talos/talosconfig';
import { scaffoldInventory } from '../src/fleet/scaffold';
import { startDevServer } from '../src/runtime/dev-server';
import { startMutatingRun } from '../src/runtime/runs';
import { startFleetWorker } from '../src/runtime/worker';
import type { UpgradeClusterInput } from '../src/shared/upgrade';
import { parseNodeCounts, SimulatedFleet } from '../src/simulator/fleet';
import type { MachineEvent } from '../src/simulator/events';
import { locateTool, requireTool } from '../src/tools/binaries';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3cp,3w' },
    'time-scale': { type: 'string', default: '0.05' },
    runs: { type: 'string', default: '2' },
    'base-address': { type: 'string', default: '127.0.210.11' },
    talosctl: { type: 'string' },
  },
});

/** When each node received Upgrade and when it was next running and ready, from the simulator itself. */
function ownUpgradeTimes(fleet: SimulatedFleet, since: number): { node: string; receivedAt: number; readyAt: number }[] {
  return fleet.nodes().map((n) => {
    const received = n.record.find((r) => r.method === 'Upgrade' && Date.parse(r.at) >= since);
    if (!received) throw new Error(`${n.name} received no Upgrade`);
    const receivedAt = Date.parse(received.at);
    const events = n.events.history({ tailEvents: -1, tailId: '', tailSeconds: 0, actorId: '' });
    const readyAfter = (e: MachineEvent) => e.at > receivedAt && e.type === 'machine.MachineStatusEvent' && e.payload.stage === 'RUNNING' && (e.payload.status as { ready?: boolean }).ready === true;
    // The first ready after a boot that began after the upgrade was received.
    const booted = events.find((e) => e.at > receivedAt && e.type === 'machine.MachineStatusEvent' && e.payload.stage === 'BOOTING');
    const ready = events.find((e) => readyAfter(e) && (!booted || e.at > booted.at));
    if (!ready) throw new Error(`${n.name} was not ready after its upgrade`);
    return { node: n.name, receivedAt, readyAt: ready.at };
  });
}

/** Retries `read` until it stops throwing, for up to `timeoutMs`. */
async function settled<T>(read: () => T, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return read();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function report(label: string, wallMs: number, own: { node: string; receivedAt: number; readyAt: number }[]): void {
  const ideal = own.reduce((sum, o) => sum + (o.readyAt - o.receivedAt), 0);
  const overhead = wallMs - ideal;
  process.stdout.write(
    `${label.padEnd(28)} wall ${(wallMs / 1000).toFixed(2).padStart(7)} s   ideal ${(ideal / 1000).toFixed(2).padStart(7)} s   ` +
      `overhead ${(overhead / 1000).toFixed(2).padStart(6)} s = ${((overhead / ideal) * 100).toFixed(1).padStart(5)} %  = ${(overhead / own.length).toFixed(0).padStart(5)} ms/node\n`,
  );
  // Where the overhead sits: from one node being ready to the next one receiving its upgrade.
  const ordered = [...own].sort((a, b) => a.receivedAt - b.receivedAt);
  const gaps = ordered.slice(1).map((o, i) => `${ordered[i]!.node}→${o.node} ${o.receivedAt - ordered[i]!.readyAt} ms`);
  process.stdout.write(`${''.padEnd(28)} between nodes: ${gaps.join(', ')}\n`);
}

/** One activity of the run as its history tells it: what, for which node, and when it was scheduled and completed. */
interface ActivitySpan {
  name: string;
  node?: string;
  scheduledAt: number;
  completedAt: number;
}

async function activitySpans(handle: WorkflowHandle): Promise<ActivitySpan[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
  const scheduled = new Map<string, { name: string; node?: string; at: number }>();
  const spans: ActivitySpan[] = [];
  for (const e of events) {
    const attrs = e.activityTaskScheduledEventAttributes;
    if (attrs) {
      const payload = attrs.input?.payloads?.[0]?.data;
      const input = payload ? (JSON.parse(Buffer.from(payload).toString('utf8')) as { node?: string }) : {};
      scheduled.set(String(e.eventId), { name: attrs.activityType?.name ?? '?', ...(input.node ? { node: input.node } : {}), at: ms(e.eventTime) });
    }
    const done = e.activityTaskCompletedEventAttributes;
    const of = done && scheduled.get(String(done.scheduledEventId));
    if (of) spans.push({ name: of.name, ...(of.node ? { node: of.node } : {}), scheduledAt: of.at, completedAt: ms(e.eventTime) });
  }
  return spans;
}

/** What ran between one node being ready and the next one receiving Upgrade: each activity, from the gap's start. */
function gapBreakdown(own: { node: string; receivedAt: number; readyAt: number }[], spans: ActivitySpan[]): string[] {
  const ordered = [...own].sort((a, b) => a.receivedAt - b.receivedAt);
  return ordered.slice(1).map((next, i) => {
    const from = ordered[i]!.readyAt;
    const inGap = spans.filter((s) => s.completedAt >= from && s.scheduledAt <= next.receivedAt);
    return `${ordered[i]!.node}→${next.node}: ${inGap.map((s) => `${s.name}${s.node ? `(${s.node})` : ''} ${s.scheduledAt - from}..${s.completedAt - from}`).join(', ')}, Upgrade received ${next.receivedAt - from}`;
  });
}

async function main(): Promise<void> {
  const timeScale = Number(values['time-scale']);
  const dir = mkdtempSync(join(tmpdir(), 'talos-fleet-bench-upgrade-'));
  const fleet = new SimulatedFleet({ dir: join(dir, 'sim'), nodes: parseNodeCounts(values.nodes, values['base-address']), timeScale });
  const secrets = await generateSecretsBundle({});
  const talosconfig = await fleet.provisionCluster({ clusterName: 'bench', secrets });
  await fleet.start();
  await fleet.bootstrapCluster(talosconfig);
  const inventory = await scaffoldInventory({
    dir: join(dir, 'inventory'),
    cluster: 'bench',
    nodes: fleet.nodes().map((n) => ({ name: n.name, address: n.spec.address, role: n.spec.role })),
    talosVersion: 'v1.10.9',
    approvers: [],
    allowSelfApproval: false,
    // The preflight snapshot happens before the first node and is not part of what is measured here.
    policy: { gates: { install: [], upgrade: [], 'upgrade-k8s': [], apply: [], restore: [] }, canaryCount: 0, workerBatchSize: 1, snapshotBeforeUpgrade: false },
    existing: { secrets, talosconfig },
  });
  const server = await startDevServer({ binary: requireTool('temporal'), port: 17400 + Math.floor(Math.random() * 500), logFile: join(dir, 'temporal.log') });
  const settings = { connection: { address: server.address }, namespace: server.namespace, taskQueue: 'bench', inventoryPath: inventory.path, source: 'environment' as const };
  const worker = await startFleetWorker({ settings, setCurrentVersion: true, log: () => undefined });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  process.stdout.write(`rolling upgrade of ${fleet.nodes().length} simulated nodes (${values.nodes}), time scale ${timeScale}, gates off, one node at a time\n`);
  let patch = 10;
  try {
    for (let i = 0; i < Number(values.runs); i++, patch++) {
      const to = `v1.10.${patch}`;
      const since = Date.now();
      const handle = await startMutatingRun(client, settings, {
        operation: 'upgrade',
        cluster: 'bench',
        requester: 'bench',
        // Polls as often as a check can usefully look: the node's own progress is what should be measured.
        args: [{ cluster: 'bench', requester: 'bench', toVersion: to, timing: { pollIntervalMs: 50, checkWindowMs: 10_000 } } satisfies UpgradeClusterInput],
        summary: `bench to ${to}`,
      });
      await handle.handle.result();
      const own = ownUpgradeTimes(fleet, since);
      const first = Math.min(...own.map((o) => o.receivedAt));
      const last = Math.max(...own.map((o) => o.readyAt));
      report(`talos-fleet run ${i + 1} (${to})`, last - first, own);
      const total = Date.now() - since;
      process.stdout.write(`${''.padEnd(28)} whole run incl. plan, preflight and final health: ${(total / 1000).toFixed(2)} s\n`);
      // Where the time between nodes goes (ms after the previous node was ready; activity scheduled..completed).
      for (const line of gapBreakdown(own, await activitySpans(handle.handle))) process.stdout.write(`${''.padEnd(28)} ${line}\n`);
    }
    const talosctl = values.talosctl ?? process.env.TALOSCTL ?? locateTool('talosctl');
    if (talosctl) {
      const config = join(dir, 'talosconfig');
      writeTalosconfig(config, talosconfig);
      const to = `v1.10.${patch}`;
      const since = Date.now();
      for (const n of fleet.nodes()) {
        await run(talosctl, ['--talosconfig', config, '-e', fleet.nodes()[0]!.spec.address, '-n', n.spec.address, 'upgrade', '--wait', '-i', `ghcr.io/siderolabs/installer:${to}`], { timeout: 600_000 });
      }
      // talosctl --wait returns once the node's boot sequence is done; its ready status may follow a moment later.
      const own = await settled(() => ownUpgradeTimes(fleet, since), 60_000);
      report(`talosctl upgrade --wait loop`, Math.max(...own.map((o) => o.readyAt)) - Math.min(...own.map((o) => o.receivedAt)), own);
    } else {
      process.stdout.write('talosctl: not available (npm run tools -- --with talosctl), its loop was not measured\n');
    }
  } finally {
    await worker.shutdown();
    await connection.close();
    await server.stop();
    await fleet.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
