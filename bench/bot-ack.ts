// Sends 100 slash commands to the Slack bot at once and prints the time each took to be acknowledged (Slack's
// 3-second rule; target p99 < 300 ms), over HTTP (signed requests to Bolt's HTTPReceiver) and over Socket Mode
// (envelopes on a loopback WebSocket). The bot is `talos-fleet bot`, in processes of its own (as deployed); this
// process plays Slack (the sender, the fake Web API, the Socket Mode server); a real Temporal dev server is behind.
// Run: node -r ts-node/register/transpile-only bench/bot-ack.ts [rounds=3] [commands=100]
// BOT_ACK_CPU_PROF=DIR writes a CPU profile of the HTTP bot process to DIR (node --cpu-prof) to see where its time goes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { startDevServer } from '../src/runtime/dev-server';
import type { RuntimeSettings } from '../src/runtime/settings';
import { requireTool } from '../src/tools/binaries';
import { TEST_SECRETS } from '../test/support/bot-env';
import { FakeSlack } from '../test/support/slack-api';
import { formBody, post, signedHeaders, slashCommand } from '../test/support/slack-requests';
import { SocketModeServer } from '../test/support/socket-mode';
import { freePort } from '../test/support/temporal';

const CHANNEL = 'C0BENCH00';
const USER = { user: 'U0BENCH00', channel: CHANNEL };

/** The mix sent at once: starts (one wins, the rest are told a run is in progress), listings, and bad input. */
function commandsFor(round: string, n: number): [string, string][] {
  return Array.from({ length: n }, (_, i): [string, string] => (i % 10 < 3 ? ['/upgrade', `bench${i % 3} v1.11.0`] : i % 10 < 7 ? ['/fleet', 'runs'] : ['/upgrade', `nosuch-${round} v1.11.0`]));
}

function summary(label: string, ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const pct = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
  return `${label.padEnd(34)} n=${s.length}  p50 ${pct(0.5).toFixed(1)} ms  p99 ${pct(0.99).toFixed(1)} ms  max ${s.at(-1)!.toFixed(1)} ms`;
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const n = Number(process.argv[3] ?? 100);
  const dir = mkdtempSync(join(tmpdir(), 'talos-fleet-bench-bot-'));
  const fake = await new FakeSlack(TEST_SECRETS.botToken, TEST_SECRETS.appToken).start();
  const temporal = await startDevServer({ binary: requireTool('temporal'), port: await freePort(), logFile: join(dir, 'temporal.log') });
  const inventoryPath = join(dir, 'fleet.yaml');
  // A valid inventory (each node its own address): an invalid one makes every command that reads it fail, so the
  // starts would be measured as error replies.
  const cluster = (name: string, i: number) => ({ name, endpoint: `https://10.0.0.${i + 1}:6443`, talosVersion: 'v1.10.9', secrets: 's', talosconfig: 't', nodes: [{ name: 'cp-1', address: `10.0.0.${i + 1}`, role: 'controlplane' }], policy: { approvers: [USER.user] }, slack: { channel: CHANNEL } });
  writeFileSync(inventoryPath, stringify({ clusters: ['bench0', 'bench1', 'bench2'].map(cluster) }));
  // No worker polls this task queue: the bench measures the bot and Temporal's frontend, not the runs.
  const settings: RuntimeSettings = { connection: { address: temporal.address }, namespace: temporal.namespace, taskQueue: 'bench-no-worker', inventoryPath, source: 'environment' };
  const bots: ChildProcess[] = [];
  const sm = await new SocketModeServer().start();
  try {
    fake.socketUrl = sm.url;
    const port = await freePort();
    const env = { ...process.env, SLACK_BOT_TOKEN: TEST_SECRETS.botToken, SLACK_SIGNING_SECRET: TEST_SECRETS.signingSecret, SLACK_APP_TOKEN: TEST_SECRETS.appToken, SLACK_API_URL: fake.apiUrl, TEMPORAL_ADDRESS: settings.connection.address!, TEMPORAL_NAMESPACE: settings.namespace, TEMPORAL_TASK_QUEUE: settings.taskQueue, TALOS_FLEET_INVENTORY: inventoryPath, SLACK_LOG_LEVEL: 'error' };
    const profile = process.env.BOT_ACK_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BOT_ACK_CPU_PROF}`] : [];
    bots.push(await startBotProcess(['--mode', 'http', '--port', String(port), '--host', '127.0.0.1'], env, profile));
    bots.push(await startBotProcess(['--mode', 'socket'], env));
    await sm.connected;
    const url = `http://127.0.0.1:${port}/slack/events`;
    console.log(`Slack bot: ${n} slash commands at once, ${rounds} rounds per transport (after a warm-up round), on ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, load average ${loadavg()[0]!.toFixed(1)}`);

    const httpRound = async (round: string, count: number) => {
      const sent = commandsFor(round, count).map(([command, text], i) => {
        const id = `${round}-${i}`;
        const body = formBody(slashCommand(command, text, USER, fake.responseUrl(id)));
        return { id, body, headers: signedHeaders(TEST_SECRETS.signingSecret, body) };
      });
      const started = performance.now();
      const acks = await Promise.all(sent.map((s) => post(url, s.body, s.headers)));
      if (acks.some((a) => a.status !== 200)) throw new Error(`not every command was acknowledged: ${acks.map((a) => a.status).join(',')}`);
      return { acks: acks.map((a) => a.ms), replies: await repliesFor(fake, sent.map((s) => s.id), started) };
    };
    const socketRound = async (round: string, count: number) => {
      const ids = commandsFor(round, count).map((_, i) => `${round}-${i}`);
      const started = performance.now();
      const acks = await Promise.all(commandsFor(round, count).map(([command, text], i) => sm.send('slash_commands', slashCommand(command, text, USER, fake.responseUrl(ids[i]!)))));
      return { acks: acks.map((a) => a.ms), replies: await repliesFor(fake, ids, started) };
    };

    // A full round each first: the bot's modules are loaded and compiled on first use (ts-node, JIT).
    await httpRound('warm-http', n);
    await socketRound('warm-socket', n);
    // The floor: the same burst against a bare Node HTTP server that answers at once, in a process of its own.
    // It listens on a port of its own choosing and says which (port + 1 may be taken on a shared machine).
    const bare = spawn(process.execPath, ['-e', `const s = require('http').createServer((q, r) => { q.resume(); q.on('end', () => r.end()); }).listen(0, '127.0.0.1', () => console.error('port ' + s.address().port))`], { stdio: ['ignore', 'ignore', 'pipe'] });
    const barePort = await new Promise<number>((resolve, reject) => {
      bare.stderr.once('data', (d: Buffer) => {
        const m = /^port (\d+)/.exec(d.toString());
        if (m) resolve(Number(m[1]));
        else reject(new Error(`the bare server did not start: ${d.toString()}`));
      });
    });
    const floor: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const acks = await Promise.all(commandsFor('bare', n).map(([command, text]) => post(`http://127.0.0.1:${barePort}/`, formBody(slashCommand(command, text, USER, 'http://127.0.0.1:9/')), {})));
      floor.push(...acks.map((a) => a.ms));
    }
    bare.kill();
    console.log(summary('bare HTTP server (the floor)', floor));
    const all = { http: [] as number[], socket: [] as number[], httpReplies: [] as number[], socketReplies: [] as number[] };
    for (let r = 1; r <= rounds; r++) {
      const h = await httpRound(`http-${r}`, n);
      console.log(summary(`HTTP round ${r}: acknowledged`, h.acks));
      const s = await socketRound(`socket-${r}`, n);
      console.log(summary(`Socket Mode round ${r}: acknowledged`, s.acks));
      all.http.push(...h.acks);
      all.socket.push(...s.acks);
      all.httpReplies.push(...h.replies);
      all.socketReplies.push(...s.replies);
    }
    console.log(summary('HTTP, all rounds: acknowledged', all.http));
    console.log(summary('Socket Mode, all rounds: acknowledged', all.socket));
    console.log(summary('HTTP: reply posted (response_url)', all.httpReplies));
    console.log(summary('Socket Mode: reply posted', all.socketReplies));
    console.log(`What the bot answered (every round, both transports):\n${answers(fake)}`);
  } finally {
    for (const b of bots) {
      b.kill('SIGTERM');
      await new Promise((r) => b.once('exit', r));
    }
    await sm.stop();
    await temporal.stop();
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts `talos-fleet bot` with these options and waits until it says it is ready. */
async function startBotProcess(args: string[], env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeArgs, join(__dirname, '..', 'bin', 'talos-fleet'), 'bot', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`talos-fleet bot ${args.join(' ')} was not ready within 60 s:\n${log}`)), 60_000);
    child.stderr.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('Slack bot ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`talos-fleet bot ${args.join(' ')} exited (${code}):\n${log}`)));
  });
  return child;
}

/** Waits for every command's reply and returns how long after the burst each arrived. */
async function repliesFor(fake: FakeSlack, ids: string[], startedAt: number): Promise<number[]> {
  const deadline = Date.now() + 60_000;
  const wanted = new Set(ids);
  for (;;) {
    const got = fake.responses.filter((r) => wanted.has(r.id));
    if (got.length >= ids.length) {
      const offset = Date.now() - performance.now();
      return got.map((r) => r.at - offset - startedAt);
    }
    if (Date.now() > deadline) throw new Error(`only ${got.length} of ${ids.length} replies arrived within 60 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The replies, counted by kind (their first words, run ids and cluster names left out). */
function answers(fake: FakeSlack): string {
  const kinds = new Map<string, number>();
  for (const r of fake.responses) {
    const kind = (r.body.text ?? '').split('\n')[0]!.replace(/`[^`]*`|\*[^*]*\*|\(run [^)]*\)|bench\d/g, '…').slice(0, 70);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return [...kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${String(n).padStart(6)} × ${k}`).join('\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
