import type { Command } from 'commander';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { startBot, type RunningBot } from '../bots/bot';
import { slackSecretsFromEnv } from '../bots/config';
import { applyDevSlack, devSlackFromEnv } from '../bots/dev';
import { FleetError } from '../errors';
import { scaffoldInventory } from '../fleet/scaffold';
import { startDevServer, type DevServer } from '../runtime/dev-server';
import { readDevManifest, type DevManifest, type RuntimeSettings } from '../runtime/settings';
import { startFleetWorker, type FleetWorker } from '../runtime/worker';
import { controlSocketPath, serveControl } from '../simulator/control';
import { DEFAULT_TALOS_VERSION, parseNodeCounts, SimulatedFleet } from '../simulator/fleet';
import { requireTool } from '../tools/binaries';
import { untilSignal } from './signals';

interface DevOptions {
  dir: string;
  cluster: string;
  nodes: string;
  version: string;
  timeScale: string;
  baseAddress: string;
  temporalPort: string;
  uiPort: string;
  taskQueue: string;
}

/** The one approver of the demo cluster; self-approval is allowed so one person can try everything. */
const DEV_APPROVER = 'dev';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, host, () => server.close(() => resolvePort(true)));
  });
}

function number(name: string, text: string): number {
  const n = Number(text);
  if (!(n > 0)) throw new FleetError('invalid_option', `${name} must be a positive number, got "${text}"`);
  return n;
}

/**
 * `talos-fleet dev`: the whole product on one machine. A Temporal dev server (history kept in DIR), a simulated
 * fleet in maintenance mode for the demo cluster, an inventory for it, and a worker; Ctrl-C stops all of it.
 */
async function dev(opts: DevOptions): Promise<void> {
  const dir = resolve(opts.dir);
  const temporalPort = number('--temporal-port', opts.temporalPort);
  const uiPort = number('--ui-port', opts.uiPort);
  const timeScale = number('--time-scale', opts.timeScale);
  const stopping = untilSignal();

  const running = readDevManifest(dir);
  if (running && running.pid !== process.pid && processAlive(running.pid)) {
    throw new FleetError('dev_running', `talos-fleet dev already runs in ${dir} (pid ${running.pid}); stop it with Ctrl-C there, or use another --dir`);
  }
  const temporal = requireTool('temporal');
  for (const [flag, port] of [['--temporal-port', temporalPort], ['--ui-port', uiPort]] as const) {
    if (!(await portFree(port))) throw new FleetError('port_in_use', `port ${port} is already in use (another Temporal dev server?); pick a free one with ${flag}`);
  }

  mkdirSync(dir, { recursive: true });
  const simDir = join(dir, 'sim');
  const inventoryDir = join(dir, 'inventory');
  const fleet = new SimulatedFleet({ dir: simDir, nodes: parseNodeCounts(opts.nodes, opts.baseAddress), version: opts.version, timeScale });
  const inventoryPath = join(inventoryDir, 'fleet.yaml');
  // The nodes' disks and the inventory's secrets belong together: a resumed fleet keeps both, a new one gets both.
  if (!existsSync(inventoryPath) || !fleet.isProvisioned()) {
    rmSync(inventoryDir, { recursive: true, force: true });
    await scaffoldInventory({
      dir: inventoryDir,
      cluster: opts.cluster,
      nodes: fleet.nodes().map((n) => ({ name: n.name, address: n.spec.address, role: n.spec.role })),
      talosVersion: opts.version,
      approvers: [DEV_APPROVER],
      allowSelfApproval: true,
      policy: { approvalTimeout: '30m', reminderEvery: '5m' },
    });
  }

  // Slack when its tokens are in the environment: the worker posts runs, the bot answers commands and buttons.
  const slack = slackSecretsFromEnv();
  const devSlack = devSlackFromEnv();
  if (slack && devSlack) applyDevSlack(inventoryPath, opts.cluster, devSlack);

  let server: DevServer | undefined;
  let worker: FleetWorker | undefined;
  let bot: RunningBot | undefined;
  let control: Awaited<ReturnType<typeof serveControl>> | undefined;
  const manifestPath = join(dir, 'dev.json');
  try {
    process.stderr.write(`starting the Temporal dev server on 127.0.0.1:${temporalPort} (history in ${join(dir, 'temporal.db')})\n`);
    server = await startDevServer({ binary: temporal, port: temporalPort, uiPort, dbFile: join(dir, 'temporal.db'), logFile: join(dir, 'temporal.log') });
    process.stderr.write(`starting ${fleet.nodes().length} simulated Talos ${opts.version} nodes in maintenance mode (time scale ${timeScale})\n`);
    control = await serveControl(fleet, controlSocketPath(simDir));
    await fleet.start();
    fleet.writeManifest({ control: controlSocketPath(simDir) });
    const settings: RuntimeSettings = { connection: { address: server.address }, namespace: server.namespace, taskQueue: opts.taskQueue, inventoryPath, ...(server.uiUrl ? { uiUrl: server.uiUrl } : {}), source: 'dev' };
    process.stderr.write('starting the worker (bundling the workflows takes a few seconds)\n');
    worker = await startFleetWorker({ settings, setCurrentVersion: true, log: () => undefined });
    if (slack) {
      process.stderr.write('starting the Slack bot (SLACK_BOT_TOKEN is set)\n');
      bot = await startBot({ secrets: slack, settings, deps: { timing: { install: { pollIntervalMs: 1_000, checkWindowMs: 10_000 }, upgrade: { pollIntervalMs: 1_000, checkWindowMs: 10_000 }, backups: { pollIntervalMs: 1_000, checkWindowMs: 10_000 } } } });
    }
    const manifest: DevManifest = {
      pid: process.pid,
      temporal: { address: server.address, namespace: server.namespace, uiUrl: server.uiUrl ?? '', dbFile: join(dir, 'temporal.db') },
      taskQueue: opts.taskQueue,
      inventory: inventoryPath,
      sim: { dir: simDir },
    };
    writeFileSync(`${manifestPath}.tmp`, JSON.stringify(manifest, null, 2));
    renameSync(`${manifestPath}.tmp`, manifestPath);
    const nodes = fleet.status().map((n) => `    ${n.name.padEnd(6)} ${n.role.padEnd(12)} ${n.address}:${n.port}  ${n.stage.toLowerCase()}`);
    process.stdout.write(
      [
        `talos-fleet dev is ready`,
        `  Temporal       ${server.address}   Web UI ${server.uiUrl}`,
        `  inventory      ${inventoryPath}  (cluster ${opts.cluster}, approver "${DEV_APPROVER}")`,
        `  simulated fleet ${simDir}`,
        ...nodes,
        `  worker         build ${worker.buildId}, task queue ${opts.taskQueue}`,
        ...(bot ? [`  Slack bot      ${bot.mode === 'socket' ? 'Socket Mode' : `HTTP on port ${bot.port} (/slack/events)`}${devSlack ? `, demo runs post to ${devSlack.channel}` : ' (set TALOS_FLEET_SLACK_CHANNEL to post the demo cluster\'s runs)'}`] : []),
        '',
        'Try, in another terminal:',
        `  talos-fleet install ${opts.cluster} --wait --as ${DEV_APPROVER}`,
        `  talos-fleet approve ${opts.cluster} --as ${DEV_APPROVER}       # the install waits for this at its start gate`,
        `  talos-fleet status ${opts.cluster}`,
        `  talos-fleet runs`,
        `  talos-fleet sim status --dir ${simDir}`,
        'Press Ctrl-C to stop everything.',
        '',
      ].join('\n'),
    );
    const signal = await Promise.race([stopping, worker.done.then(() => 'worker stopped')]);
    process.stderr.write(`${signal}: stopping the worker, the simulated fleet and the Temporal dev server\n`);
  } finally {
    rmSync(manifestPath, { force: true });
    await bot?.stop().catch(() => undefined);
    await worker?.shutdown().catch(() => undefined);
    // The Temporal dev server stops even when the fleet's stop fails (that error is still dev's outcome).
    try {
      await fleet.stop();
    } finally {
      if (control) await new Promise<void>((r) => control!.close(() => r()));
      rmSync(join(simDir, 'sim.json'), { force: true });
      await server?.stop();
    }
  }
  process.stderr.write('talos-fleet dev stopped: the worker, the simulated fleet and the Temporal dev server are down\n');
}

/** `talos-fleet dev`. */
export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('run everything on this machine: a Temporal dev server, a simulated fleet for the demo cluster, its inventory and a worker')
    .option('--dir <dir>', 'where state lives (Temporal history, the nodes\' disks, the inventory, dev.json)', '.dev')
    .option('--cluster <name>', 'name of the demo cluster', 'demo')
    .option('--nodes <counts>', 'control planes and workers, e.g. 3cp,2w', '3cp,2w')
    .option('--version <version>', 'Talos version of the simulated nodes', DEFAULT_TALOS_VERSION)
    .option('--time-scale <factor>', 'simulated durations multiplied by this (1 is realistic)', '0.25')
    .option('--base-address <ip>', 'loopback address of the first node', '127.0.0.11')
    .option('--temporal-port <port>', 'Temporal gRPC port', '7233')
    .option('--ui-port <port>', 'Temporal Web UI port', '8233')
    .option('--task-queue <name>', 'task queue of the worker', 'talos-fleet')
    .action((opts: DevOptions) => dev(opts));
}
