// Reads large EtcdSnapshot streams from a simulated control plane through the real TalosClient and prints
// throughput (MB/s, MiB/s) and peak RSS of the client, the simulator and its etcd. A benchmark, not a test.
//
//   node --expose-gc -r ts-node/register/transpile-only bench/snapshot-stream.ts [--size-mib 64,256] [--runs 3]
//        [--modes direct,nodes,node] [--warmup 1] [--base-address 127.0.200.11] [--verify] [--profile DIR] [--keep]
//
// The simulator runs as its own process (`talos-fleet sim up`, one control plane on a loopback range of its
// own); etcd is filled with incompressible 1 MiB values until its database reaches each size (ascending,
// filled incrementally). Every streamed run is a fresh client process, so its peak RSS belongs to that one
// stream and nothing else; the simulator's and etcd's peaks are reset before each run (/proc/PID/clear_refs).
// The simulator is long-lived, as a node is: before the first measured run of each target it serves
// `--warmup` untimed streams, so that its JIT-compiled code, not its first minutes, is what gets measured.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, closeSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EtcdClient } from '../src/simulator/etcd/client';
import { TalosClient } from '../src/talos/client';
import type { Target } from '../src/talos/connection';
import { contextIdentity } from '../src/config/talosconfig';
import { loadTalosconfig } from '../src/talos/talosconfig';

const MiB = 1024 * 1024;
/** etcd's default request limit is 1.5 MiB; a 1 MiB value plus its key stays well under it. */
const VALUE_BYTES = MiB;
const PUTS_IN_FLIGHT = 4;
const SAMPLE_MS = 50;
/** Linux reports process CPU times in clock ticks of 1/100 s (getconf CLK_TCK). */
const CLOCK_TICKS_PER_SECOND = 100;
const ROOT = resolve(__dirname, '..');

/** How the client addresses the node: the endpoint itself, apid one-to-many (talosctl's way), or one-to-one. */
type Mode = 'direct' | 'nodes' | 'node';
const MODES: readonly Mode[] = ['direct', 'nodes', 'node'];

interface Options {
  sizesMiB: number[];
  runs: number;
  warmups: number;
  modes: Mode[];
  baseAddress: string;
  verify: boolean;
  profileDir?: string;
  keep: boolean;
}

/** What the parent asks of one measuring child process. */
interface MeasureRequest {
  talosconfig: string;
  endpoint: string;
  address: string;
  mode: Mode;
  verify: boolean;
}

/** What one measuring child process reports. */
interface MeasureResult {
  bytes: number;
  seconds: number;
  /** RSS after connecting and a full GC, before the stream started. */
  baselineRss: number;
  /** Highest RSS sampled every 50 ms during the stream. */
  sampledPeakRss: number;
  /** getrusage's ru_maxrss for the whole client process (includes start-up). */
  maxRss: number;
  cpuSeconds: number;
  /** With --verify: whether etcd's SHA-256 trailer matched the streamed database. */
  hashOk?: boolean;
}

interface RunRow extends MeasureResult {
  sizeMiB: number;
  mode: Mode;
  run: number;
  /** The simulator's RSS just before the run. */
  simBaseRss?: number;
  simPeakRss?: number;
  simCpuSeconds?: number;
  etcdPeakRss?: number;
  etcdCpuSeconds?: number;
}

function targetFor(mode: Mode, address: string): Target {
  if (mode === 'nodes') return { nodes: [address] };
  if (mode === 'node') return { node: address };
  return {};
}

function targetLabel(mode: Mode): string {
  return mode === 'direct' ? '{}' : mode === 'nodes' ? '{ nodes: [addr] }' : '{ node: addr }';
}

// --- the measuring child -----------------------------------------------------------------------------

/** Streams one snapshot into a counting sink and reports bytes, time, RSS and CPU. */
async function measure(request: MeasureRequest): Promise<MeasureResult> {
  const { identity } = contextIdentity(loadTalosconfig(request.talosconfig));
  if (!identity) throw new Error(`${request.talosconfig} holds no client certificate`);
  const client = TalosClient.withIdentity(identity, { endpoints: [request.endpoint] });
  const target = targetFor(request.mode, request.address);
  try {
    // Connect first (TLS handshake; for proxied modes the simulator's own backend channel too): the
    // figure is the stream, not the set-up.
    await client.version(target);
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const baselineRss = process.memoryUsage.rss();
    let sampledPeakRss = baselineRss;
    const sampler = setInterval(() => {
      sampledPeakRss = Math.max(sampledPeakRss, process.memoryUsage.rss());
    }, SAMPLE_MS);

    let bytes = 0;
    // etcd ends the stream with the SHA-256 of the database; keep the last 32 bytes out of the hash.
    const hash = request.verify ? createHash('sha256') : undefined;
    let tail = Buffer.alloc(0);
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        if (hash) {
          const joined = Buffer.concat([tail, chunk]);
          const keep = Math.min(32, joined.length);
          hash.update(joined.subarray(0, joined.length - keep));
          tail = Buffer.from(joined.subarray(joined.length - keep));
        }
        callback();
      },
    });
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    try {
      await pipeline(client.etcdSnapshot(target), sink);
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    sampledPeakRss = Math.max(sampledPeakRss, process.memoryUsage.rss());
    return {
      bytes,
      seconds,
      baselineRss,
      sampledPeakRss,
      maxRss: process.resourceUsage().maxRSS * 1024,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      ...(hash ? { hashOk: tail.length === 32 && hash.digest().equals(tail) } : {}),
    };
  } finally {
    client.close();
  }
}

// --- /proc ---------------------------------------------------------------------------------------------

function procStatusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Resets the process's peak RSS (VmHWM) to its current RSS; false when the kernel does not allow it. */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** User + system CPU seconds the process has used so far. */
function cpuSecondsOf(pid: number): number | undefined {
  try {
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the line.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** The simulator's etcd child (the only etcd it starts with one control plane). */
function findEtcdPid(simPid: number): number | undefined {
  try {
    for (const task of readdirSync(`/proc/${simPid}/task`)) {
      const children = readFileSync(`/proc/${simPid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      for (const child of children.map(Number)) {
        const argv0 = readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0')[0] ?? '';
        if (/(^|\/)etcd$/.test(argv0)) return child;
      }
    }
  } catch {
    // /proc/PID/task/*/children needs CONFIG_PROC_CHILDREN; without it etcd's figures are simply not shown.
  }
  return undefined;
}

// --- the simulator -------------------------------------------------------------------------------------

interface SimNode {
  name: string;
  role: string;
  address: string;
  port: number;
  etcdClientUrl?: string;
}

interface Simulator {
  process: ChildProcess;
  dir: string;
  log: string;
  node: SimNode;
  talosconfig: string;
  etcdPid?: number;
}

function logTail(path: string, lines = 30): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts `talos-fleet sim up` and waits for its sim.json; `onSpawn` gets the process at once, for clean-up. */
async function startSimulator(dir: string, baseAddress: string, profileDir: string | undefined, onSpawn: (child: ChildProcess) => void): Promise<Simulator> {
  const log = join(dir, 'sim.log');
  const fd = openSync(log, 'a');
  const simDir = join(dir, 'fleet');
  mkdirSync(simDir);
  const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', 'simulator.cpuprofile'] : [];
  const child = spawn(
    process.execPath,
    [...nodeArgs, join(ROOT, 'bin/talos-fleet'), 'sim', 'up', '--nodes', '1cp', '--dir', simDir, '--state', 'bootstrapped', '--time-scale', '0.01', '--base-address', baseAddress],
    { cwd: ROOT, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  onSpawn(child);
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`the simulator exited early (${signal ?? `code ${code}`}); its log ends with:\n${logTail(log)}`))),
  );
  exited.catch(() => undefined);
  const manifest = join(simDir, 'sim.json');
  const deadline = Date.now() + 90_000;
  while (!existsSync(manifest)) {
    if (Date.now() > deadline) throw new Error(`no ${manifest} after 90 s; the simulator's log ends with:\n${logTail(log)}`);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 200))]);
  }
  const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { nodes: SimNode[]; talosconfig?: string };
  const node = parsed.nodes.find((n) => n.role === 'controlplane' && n.etcdClientUrl);
  if (!node || !parsed.talosconfig) throw new Error(`${manifest} names no control plane with etcd, or no talosconfig`);
  return { process: child, dir: simDir, log, node, talosconfig: parsed.talosconfig, etcdPid: child.pid === undefined ? undefined : findEtcdPid(child.pid) };
}

/** SIGTERM, then SIGKILL (and the orphaned etcd) if it does not stop within 20 s. */
async function stopSimulator(child: ChildProcess, etcdPid: number | undefined): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20_000))]);
  if (!stopped) {
    child.kill('SIGKILL');
    if (etcdPid !== undefined) {
      try {
        process.kill(etcdPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await exited;
  }
}

// --- filling etcd --------------------------------------------------------------------------------------

/**
 * etcd's database size once it stops changing: etcd commits puts in batches (every 100 ms by default), so the
 * size reported right after the last put can lag what a snapshot will hold.
 */
async function dbSize(etcd: EtcdClient): Promise<number> {
  let previous = -1;
  for (let size = Number((await etcd.status()).dbSize); size !== previous; size = Number((await etcd.status()).dbSize)) {
    previous = size;
    await new Promise((r) => setTimeout(r, 250));
  }
  return previous;
}

/** Puts incompressible 1 MiB values until etcd's database is at least `bytes` long. */
async function fillEtcd(etcd: EtcdClient, bytes: number, keyPrefix: string, nextKey: { n: number }): Promise<number> {
  for (let size = await dbSize(etcd); size < bytes; size = await dbSize(etcd)) {
    const missing = Math.ceil((bytes - size) / VALUE_BYTES);
    let issued = 0;
    const worker = async (): Promise<void> => {
      while (issued < missing) {
        issued++;
        await etcd.put(`${keyPrefix}/${String(nextKey.n++).padStart(8, '0')}`, randomBytes(VALUE_BYTES));
      }
    };
    await Promise.all(Array.from({ length: PUTS_IN_FLIGHT }, worker));
  }
  return dbSize(etcd);
}

// --- the parent ----------------------------------------------------------------------------------------

/** The measuring client running now, so that clean-up can stop it too. */
let activeClient: ChildProcess | undefined;

function runChild(request: MeasureRequest, profileDir: string | undefined, label: string): Promise<MeasureResult> {
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `client-${label}.cpuprofile`] : [];
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--cpu-prof'));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...execArgv, ...profile, __filename, '--measure', JSON.stringify(request)], { stdio: ['ignore', 'pipe', 'inherit'] });
    activeClient = child;
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15 * 60_000);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (activeClient === child) activeClient = undefined;
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolvePromise(JSON.parse(line.slice('RESULT '.length)) as MeasureResult);
      else reject(new Error(`measuring ${label} failed (${signal ?? `exit code ${code}`})${out ? `: ${out.trim()}` : ''}`));
    });
  });
}

/** A bad command line: printed as a message, without a stack. */
class UsageError extends Error {}

function parseOptions(argv: string[]): Options {
  const opts: Options = { sizesMiB: [256], runs: 3, warmups: 1, modes: ['direct', 'nodes'], baseAddress: '127.0.200.11', verify: false, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    if (arg === '--size-mib') opts.sizesMiB = value().split(',').map(Number);
    else if (arg === '--runs') opts.runs = Number(value());
    else if (arg === '--warmup') opts.warmups = Number(value());
    else if (arg === '--modes') opts.modes = value().split(',') as Mode[];
    else if (arg === '--base-address') opts.baseAddress = value();
    else if (arg === '--verify') opts.verify = true;
    else if (arg === '--profile') opts.profileDir = resolve(value());
    else if (arg === '--keep') opts.keep = true;
    else throw new UsageError(`unknown argument ${arg}; usage: bench/snapshot-stream.ts [--size-mib 64,256] [--runs 3] [--modes direct,nodes,node] [--warmup 1] [--base-address 127.0.200.11] [--verify] [--profile DIR] [--keep]`);
  }
  const problems = [
    ...opts.sizesMiB.filter((s) => !(Number.isInteger(s) && s > 0)).map((s) => `--size-mib: ${s} is not a positive whole number of MiB`),
    ...(Number.isInteger(opts.runs) && opts.runs > 0 ? [] : [`--runs: ${opts.runs} is not a positive whole number`]),
    ...(Number.isInteger(opts.warmups) && opts.warmups >= 0 ? [] : [`--warmup: ${opts.warmups} is not a whole number`]),
    ...opts.modes.filter((m) => !MODES.includes(m)).map((m) => `--modes: "${m}" is not one of ${MODES.join(', ')}`),
    ...(/^127\.\d+\.\d+\.\d+$/.test(opts.baseAddress) ? [] : [`--base-address: ${opts.baseAddress} is not a 127.x.y.z loopback address`]),
  ];
  if (problems.length) throw new UsageError(problems.join('\n'));
  opts.sizesMiB.sort((a, b) => a - b);
  return opts;
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(0);
const mib = (bytes: number | undefined): string => (bytes === undefined ? '-' : (bytes / MiB).toFixed(0));
const secs = (s: number | undefined): string => (s === undefined ? '-' : s.toFixed(2));

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i < 2 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--measure') {
    const result = await measure(JSON.parse(argv[1] ?? '{}') as MeasureRequest);
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    return 0;
  }
  const opts = parseOptions(argv);
  if (opts.profileDir) mkdirSync(opts.profileDir, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'talos-fleet-bench-'));
  let sim: Simulator | undefined;
  let simProcess: ChildProcess | undefined;
  let cleaned = false;
  let cleaning: Promise<void> | undefined;
  // One clean-up however it is reached (signal, failure, normal end); every caller waits for the same one.
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      cleaned = true;
      activeClient?.kill('SIGKILL');
      if (simProcess) await stopSimulator(simProcess, sim?.etcdPid);
      if (opts.keep) process.stderr.write(`kept ${tmp}\n`);
      else rmSync(tmp, { recursive: true, force: true });
    })());
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`${signal}: stopping the simulator and removing ${tmp}\n`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const rows: RunRow[] = [];
  const problems: string[] = [];
  try {
    const started = performance.now();
    process.stderr.write(`starting the simulator (1 control plane at ${opts.baseAddress}) in ${tmp}\n`);
    sim = await startSimulator(tmp, opts.baseAddress, opts.profileDir, (child) => (simProcess = child));
    const simPid = sim.process.pid!;
    process.stderr.write(`simulator up in ${((performance.now() - started) / 1000).toFixed(1)} s (pid ${simPid}, etcd pid ${sim.etcdPid ?? 'unknown'})\n`);
    const peakResettable = resetPeakRss(simPid);
    if (!peakResettable) process.stderr.write('cannot reset VmHWM (/proc/PID/clear_refs): simulator peaks are since start-up\n');

    const etcd = new EtcdClient(sim.node.etcdClientUrl!, 30_000);
    const nextKey = { n: 0 };
    const snapshotBytes = new Map<number, number>();
    const warmed = new Set<Mode>();
    try {
      for (const sizeMiB of opts.sizesMiB) {
        const fillStart = performance.now();
        const size = await fillEtcd(etcd, sizeMiB * MiB, 'bench/snapshot', nextKey);
        process.stderr.write(`etcd filled to ${mib(size)} MiB (${size} bytes, ${nextKey.n} values of 1 MiB) in ${((performance.now() - fillStart) / 1000).toFixed(1)} s\n`);
        for (const mode of opts.modes) {
          const request: MeasureRequest = { talosconfig: sim.talosconfig, endpoint: `${sim.node.address}:${sim.node.port}`, address: sim.node.address, mode, verify: opts.verify };
          for (let w = 1; !warmed.has(mode) && w <= opts.warmups; w++) {
            const warm = await runChild({ ...request, verify: false }, undefined, `warmup-${mode}-${w}`);
            process.stderr.write(`  warm-up ${mode} ${w}: ${warm.bytes} bytes in ${warm.seconds.toFixed(2)} s = ${mb(warm.bytes / warm.seconds)} MB/s (not counted)\n`);
          }
          warmed.add(mode);
          for (let run = 1; run <= opts.runs; run++) {
            const label = `${sizeMiB}MiB-${mode}-${run}`;
            if (peakResettable) {
              resetPeakRss(simPid);
              if (sim.etcdPid !== undefined) resetPeakRss(sim.etcdPid);
            }
            const simBaseRss = (procStatusKiB(simPid, 'VmRSS') ?? NaN) * 1024;
            const simCpu = cpuSecondsOf(simPid);
            const etcdCpu = sim.etcdPid === undefined ? undefined : cpuSecondsOf(sim.etcdPid);
            let result: MeasureResult;
            try {
              result = await runChild(request, opts.profileDir, label);
            } catch (err) {
              if (cleaned) return 130; // interrupted: the simulator and the temporary directory are gone
              // A failed stream is a finding, not a reason to lose the other runs' figures.
              problems.push(`${label}: ${(err as Error).message.split('\n')[0]}`);
              process.stderr.write(`  ${label}: FAILED: ${(err as Error).message}\n`);
              if (sim.process.exitCode !== null || sim.process.signalCode !== null) throw new Error(`the simulator died; its log ends with:\n${logTail(sim.log)}`);
              continue;
            }
            const simCpuAfter = cpuSecondsOf(simPid);
            const etcdCpuAfter = sim.etcdPid === undefined ? undefined : cpuSecondsOf(sim.etcdPid);
            const row: RunRow = {
              ...result,
              sizeMiB,
              mode,
              run,
              simBaseRss,
              simPeakRss: (procStatusKiB(simPid, 'VmHWM') ?? NaN) * 1024,
              simCpuSeconds: simCpu === undefined || simCpuAfter === undefined ? undefined : simCpuAfter - simCpu,
              etcdPeakRss: sim.etcdPid === undefined ? undefined : (procStatusKiB(sim.etcdPid, 'VmHWM') ?? NaN) * 1024,
              etcdCpuSeconds: etcdCpu === undefined || etcdCpuAfter === undefined ? undefined : etcdCpuAfter - etcdCpu,
            };
            rows.push(row);
            process.stderr.write(
              `  ${label}: ${row.bytes} bytes in ${row.seconds.toFixed(2)} s = ${mb(row.bytes / row.seconds)} MB/s; client peak ${mib(row.sampledPeakRss)} MiB, simulator peak ${mib(row.simPeakRss)} MiB` +
                `${row.hashOk === undefined ? '' : row.hashOk ? ', SHA-256 trailer ok' : ', SHA-256 trailer MISMATCH'}\n`,
            );
            const first = snapshotBytes.get(sizeMiB);
            if (first === undefined) snapshotBytes.set(sizeMiB, row.bytes);
            else if (first !== row.bytes) problems.push(`${label}: ${row.bytes} bytes, but the first run at this size streamed ${first}`);
            if (row.hashOk === false) problems.push(`${label}: the SHA-256 trailer does not match the streamed database`);
          }
        }
      }
    } finally {
      etcd.close();
    }

    // --- report ---
    const cpu = cpus();
    console.log(`\nEtcdSnapshot stream through TalosClient, ${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, Node ${process.version}, loopback TLS (simulator: 1 control plane, etcd at ${sim.node.etcdClientUrl})\n`);
    console.log(
      table(
        ['size', 'target', 'run', 'snapshot bytes', 's', 'MB/s', 'MiB/s', 'client base MiB', 'client peak MiB', 'client maxRSS MiB', 'client CPU s', 'sim base MiB', 'sim peak MiB', 'sim CPU s', 'etcd peak MiB', 'etcd CPU s'],
        rows.map((r) => [
          `${r.sizeMiB} MiB`,
          targetLabel(r.mode),
          String(r.run),
          String(r.bytes),
          r.seconds.toFixed(2),
          mb(r.bytes / r.seconds),
          (r.bytes / MiB / r.seconds).toFixed(0),
          mib(r.baselineRss),
          mib(r.sampledPeakRss),
          mib(r.maxRss),
          secs(r.cpuSeconds),
          mib(r.simBaseRss),
          mib(r.simPeakRss),
          secs(r.simCpuSeconds),
          mib(r.etcdPeakRss),
          secs(r.etcdCpuSeconds),
        ]),
      ),
    );
    console.log('\nPer size and target (median throughput and CPU time per MB; highest peak RSS over the runs):\n');
    const groups = opts.sizesMiB.flatMap((sizeMiB) => opts.modes.map((mode) => ({ sizeMiB, mode, runs: rows.filter((r) => r.sizeMiB === sizeMiB && r.mode === mode) })));
    console.log(
      table(
        ['size', 'target', 'snapshot MiB', 'median MB/s', 'median MiB/s', 'client peak MiB', 'sim peak MiB', 'etcd peak MiB', 'CPU ms/MB client', 'sim', 'etcd'],
        groups.map(({ sizeMiB, mode, runs }) => {
          if (!runs.length) return [`${sizeMiB} MiB`, targetLabel(mode), 'every run failed'];
          const perMB = (cpu: (r: RunRow) => number | undefined): string => (runs.every((r) => cpu(r) !== undefined) ? median(runs.map((r) => (cpu(r)! * 1000) / (r.bytes / 1e6))).toFixed(1) : '-');
          return [
            `${sizeMiB} MiB`,
            targetLabel(mode),
            mib(runs[0]?.bytes),
            mb(median(runs.map((r) => r.bytes / r.seconds))),
            (median(runs.map((r) => r.bytes / r.seconds)) / MiB).toFixed(0),
            mib(Math.max(...runs.map((r) => r.sampledPeakRss))),
            mib(Math.max(...runs.map((r) => r.simPeakRss ?? NaN))),
            mib(Math.max(...runs.map((r) => r.etcdPeakRss ?? NaN))),
            perMB((r) => r.cpuSeconds),
            perMB((r) => r.simCpuSeconds),
            perMB((r) => r.etcdCpuSeconds),
          ];
        }),
      ),
    );
    console.log(
      `\nclient peak: highest RSS sampled every ${SAMPLE_MS} ms in a fresh client process during the stream (base: after connecting and a full GC); ` +
        `maxRSS: getrusage for that whole process; sim/etcd peak: VmHWM of the simulator / etcd, reset before each run (sim base: its VmRSS then). ` +
        (problems.length ? 'PROBLEMS below.' : 'Every run ended with status OK; byte counts are identical across runs and targets at each size.'),
    );
    const warnings = readFileSync(sim.log, 'utf8').split('\n').filter((l) => /Warning/.test(l));
    if (warnings.length) console.log(`simulator log: ${warnings.length} warning lines, e.g. ${warnings[0]}`);
    if (opts.profileDir) console.log(`CPU profiles in ${opts.profileDir} (the simulator's is written when it stops)`);
    for (const p of problems) console.log(`PROBLEM: ${p}`);
    return problems.length ? 1 : 0;
  } finally {
    await cleanup();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof UsageError ? err.message : err);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
