// The whole snapshot pipeline on a large snapshot: EtcdSnapshot from a simulated control plane through the real
// TalosClient, SHA-256 and etcd's trailer check, (optionally zstd,) age encryption, into the file store and into S3
// (Versity Gateway on loopback), beside a raw read of the same stream and `talosctl etcd snapshot` of the same node
// when a talosctl binary is there (`npm run tools -- --with talosctl`). Prints MB/s and peak RSS. A benchmark, not a test.
//
//   node --expose-gc --max-semi-space-size=16 -r ts-node/register/transpile-only bench/backup-pipeline.ts [--size-mib 1024] [--runs 3]
//        [--targets raw,file,s3,talosctl] [--zstd] [--base-address 127.0.201.11] [--keep]
//
// Every measured transfer runs in a fresh child process, so its peak RSS (sampled every 50 ms) belongs to that
// transfer alone; "growth" is the peak minus the RSS after connecting and a full GC. talosctl's peak is its VmHWM.
// The CPU time of every process on the machine's side of the stream is counted over each transfer from /proc: the
// client, the simulated node's process, its etcd, its Kubernetes (API server, kwok) and the S3 server, per MB, and
// how many cores they kept busy together: on a machine whose cores are full, that sum is what bounds the rates.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { uploadSnapshot } from '../src/backups/pipeline';
import { openStore } from '../src/backups/store';
import { contextIdentity } from '../src/config/talosconfig';
import { EtcdClient } from '../src/simulator/etcd/client';
import { TalosClient } from '../src/talos/client';
import { loadTalosconfig } from '../src/talos/talosconfig';
import { locateTool, requireTool } from '../src/tools/binaries';
import { allProcesses, readProcess, withDescendants } from '../test/support/process-tree';
import { startTestS3 } from '../test/support/s3';

const MiB = 1024 * 1024;
const ROOT = resolve(__dirname, '..');
type Target = 'raw' | 'file' | 's3' | 'talosctl';

interface Request {
  target: Exclude<Target, 'talosctl'>;
  talosconfig: string;
  endpoint: string;
  recipient: string;
  store?: string;
  zstd: boolean;
  env: Record<string, string>;
}

interface Result {
  bytes: number;
  storedBytes: number;
  seconds: number;
  baselineRss: number;
  peakRss: number;
  cpuSeconds: number;
  /** The share of the transfer the main thread was busy (event-loop utilization): near 1, that one thread is the limit. */
  mainBusy: number;
  /** CPU seconds the other processes used during the transfer (filled in by the parent). */
  others?: ServerCpu;
}

/** CPU seconds used so far by the processes serving a transfer. */
interface ServerCpu {
  simulator: number;
  etcd: number;
  kubernetes: number;
  s3: number;
}

/** The simulator's own process, its etcd members and its other children (Kubernetes), and the S3 server (ours). */
function serverCpu(simulator: number): ServerCpu {
  const all = allProcesses();
  const tree = withDescendants(all, all.filter((p) => p.pid === simulator));
  const sum = (ps: typeof all) => ps.reduce((total, p) => total + p.cpuSeconds, 0);
  return {
    simulator: sum(tree.slice(0, 1)),
    etcd: sum(tree.slice(1).filter((p) => p.comm.startsWith('etcd'))),
    kubernetes: sum(tree.slice(1).filter((p) => !p.comm.startsWith('etcd'))),
    s3: sum(all.filter((p) => p.ppid === process.pid && p.comm === 'versitygw')),
  };
}

function cpuSince(before: ServerCpu, after: ServerCpu): ServerCpu {
  return { simulator: after.simulator - before.simulator, etcd: after.etcd - before.etcd, kubernetes: after.kubernetes - before.kubernetes, s3: after.s3 - before.s3 };
}

/** One transfer in this (child) process. */
async function measure(req: Request): Promise<Result> {
  Object.assign(process.env, req.env);
  const { identity } = contextIdentity(loadTalosconfig(req.talosconfig));
  const client = TalosClient.withIdentity(identity!, { endpoints: [req.endpoint], timeoutMs: 30 * 60_000 });
  try {
    await client.version();
    const store = req.store ? openStore(req.store) : undefined;
    if (store) await store.list('bench/');
    (globalThis as { gc?: () => void }).gc?.();
    const baselineRss = process.memoryUsage.rss();
    let peakRss = baselineRss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50);
    const cpu = process.cpuUsage();
    const loop = performance.eventLoopUtilization();
    // The parent starts counting the other processes' CPU here.
    process.stdout.write('START\n');
    const start = performance.now();
    let bytes = 0;
    let storedBytes = 0;
    try {
      const source = client.etcdSnapshot({});
      if (req.target === 'raw') {
        await pipeline(source, new Writable({ write: (c: Buffer, _e, cb) => ((bytes += c.length), cb()) }));
        storedBytes = bytes;
      } else {
        const r = await uploadSnapshot({ source, store: store!, key: `bench/${randomBytes(4).toString('hex')}.snap${req.zstd ? '.zst' : ''}.age`, recipients: [req.recipient], compression: req.zstd ? 'zstd' : 'none', what: 'the benchmark snapshot' });
        bytes = r.bytes;
        storedBytes = r.storedBytes;
      }
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    const mainBusy = performance.eventLoopUtilization(loop).utilization;
    return { bytes, storedBytes, seconds, baselineRss, peakRss: Math.max(peakRss, process.memoryUsage.rss()), cpuSeconds: (used.user + used.system) / 1e6, mainBusy };
  } finally {
    client.close();
  }
}

function child(req: Request, simulator: number): Promise<Result> {
  return new Promise((resolvePromise, reject) => {
    const c = spawn(process.execPath, [...process.execArgv, __filename, '--measure', JSON.stringify(req)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let before: ServerCpu | undefined;
    let during: ServerCpu | undefined;
    c.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (!before && out.includes('START\n')) before = serverCpu(simulator);
      if (before && !during && out.includes('RESULT ')) during = cpuSince(before, serverCpu(simulator));
    });
    c.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolvePromise({ ...(JSON.parse(line.slice(7)) as Result), ...(during ? { others: during } : {}) });
      else reject(new Error(`${req.target} failed (exit ${code}): ${out.trim()}`));
    });
  });
}

/** `talosctl etcd snapshot` of the same node, timed, with its VmHWM. */
async function talosctl(binary: string, talosconfig: string, address: string, dir: string, simulator: number): Promise<Result> {
  const path = join(dir, `talosctl-${randomBytes(4).toString('hex')}.snapshot`);
  const before = serverCpu(simulator);
  let cpuSeconds = NaN;
  const start = performance.now();
  const c = spawn(binary, ['--talosconfig', talosconfig, '-e', address, '-n', address, 'etcd', 'snapshot', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let peak = 0;
  let err = '';
  c.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const sampler = setInterval(() => {
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${c.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
      cpuSeconds = readProcess(c.pid!)?.cpuSeconds ?? cpuSeconds;
    } catch {
      // exited
    }
  }, 50);
  const code = await new Promise<number | null>((r) => c.once('exit', r));
  clearInterval(sampler);
  const seconds = (performance.now() - start) / 1000;
  const others = cpuSince(before, serverCpu(simulator));
  if (code !== 0) throw new Error(`talosctl failed: ${err.trim()}`);
  const bytes = statSync(path).size;
  rmSync(path);
  // Its CPU as last sampled (within 50 ms of its end).
  return { bytes, storedBytes: bytes, seconds, baselineRss: 0, peakRss: peak, cpuSeconds, mainBusy: NaN, others };
}

async function fill(etcd: EtcdClient, bytes: number): Promise<number> {
  const size = async () => Number((await etcd.status()).dbSize);
  let n = 0;
  while ((await size()) < bytes) {
    await Promise.all(Array.from({ length: 16 }, () => etcd.put(`bench/${String(n++).padStart(8, '0')}`, randomBytes(MiB))));
  }
  // etcd commits in batches: wait for the size to settle.
  let last = -1;
  for (let s = await size(); s !== last; s = await size()) {
    last = s;
    await new Promise((r) => setTimeout(r, 300));
  }
  return last;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--measure') {
    process.stdout.write(`RESULT ${JSON.stringify(await measure(JSON.parse(argv[1]!) as Request))}\n`);
    return 0;
  }
  const opt = { sizeMiB: 1024, runs: 3, targets: ['raw', 'file', 's3', 'talosctl'] as Target[], zstd: false, base: '127.0.201.11', keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--size-mib') opt.sizeMiB = Number(argv[++i]);
    else if (a === '--runs') opt.runs = Number(argv[++i]);
    else if (a === '--targets') opt.targets = argv[++i]!.split(',') as Target[];
    else if (a === '--zstd') opt.zstd = true;
    else if (a === '--base-address') opt.base = argv[++i]!;
    else if (a === '--keep') opt.keep = true;
    else throw new Error(`unknown argument ${a}`);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'talos-fleet-bench-pipeline-'));
  let sim: ChildProcess | undefined;
  let s3: Awaited<ReturnType<typeof startTestS3>> | undefined;
  try {
    const log = openSync(join(tmp, 'sim.log'), 'a');
    mkdirSync(join(tmp, 'fleet'));
    sim = spawn(process.execPath, ['--max-semi-space-size=16', join(ROOT, 'bin/talos-fleet'), 'sim', 'up', '--nodes', '1cp', '--dir', join(tmp, 'fleet'), '--state', 'bootstrapped', '--time-scale', '0.01', '--base-address', opt.base], { cwd: ROOT, stdio: ['ignore', log, log] });
    closeSync(log);
    const manifest = join(tmp, 'fleet', 'sim.json');
    for (const deadline = Date.now() + 120_000; !existsSync(manifest); ) {
      if (Date.now() > deadline || sim.exitCode !== null) throw new Error(`the simulator did not come up: ${readFileSync(join(tmp, 'sim.log'), 'utf8').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as { nodes: { address: string; port: number; etcdClientUrl: string }[]; talosconfig: string };
    const node = m.nodes[0]!;
    const etcd = new EtcdClient(node.etcdClientUrl, 60_000);
    const t0 = performance.now();
    const db = await fill(etcd, opt.sizeMiB * MiB);
    etcd.close();
    process.stderr.write(`etcd filled to ${(db / MiB).toFixed(0)} MiB in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    const key = join(tmp, 'bench.agekey');
    execFileSync(requireTool('age-keygen'), ['-o', key], { stdio: 'pipe' });
    chmodSync(key, 0o600);
    const recipient = /public key: (age1\S+)/.exec(readFileSync(key, 'utf8'))![1]!;
    if (opt.targets.includes('s3')) s3 = await startTestS3(join(tmp, 's3'));
    const talosctlBin = locateTool('talosctl');
    mkdirSync(join(tmp, 'store'));
    // One untimed read first: the simulator is long-lived, as a node is; its first stream is not what is measured.
    await child({ target: 'raw', talosconfig: m.talosconfig, endpoint: `${node.address}:${node.port}`, recipient, zstd: false, env: {} }, sim.pid!);
    const rows: { target: Target; run: number; r: Result }[] = [];
    for (let run = 1; run <= opt.runs; run++) {
      for (const target of opt.targets) {
        let r: Result;
        if (target === 'talosctl') {
          if (!talosctlBin) {
            if (run === 1) process.stderr.write('talosctl: no binary (npm run tools -- --with talosctl); skipped\n');
            continue;
          }
          r = await talosctl(talosctlBin, m.talosconfig, node.address, tmp, sim.pid!);
        } else {
          const store = target === 'file' ? `file://${join(tmp, 'store')}` : target === 's3' ? s3!.url('bench') : undefined;
          r = await child({ target, talosconfig: m.talosconfig, endpoint: `${node.address}:${node.port}`, recipient, zstd: opt.zstd, env: s3 ? s3.env : {}, ...(store ? { store } : {}) }, sim.pid!);
          if (store?.startsWith('file://')) rmSync(join(tmp, 'store', 'bench'), { recursive: true, force: true });
        }
        rows.push({ target, run, r });
        process.stderr.write(`  ${target} run ${run}: ${(r.bytes / 1e6 / r.seconds).toFixed(0)} MB/s, peak ${(r.peakRss / MiB).toFixed(0)} MiB${r.baselineRss ? `, growth ${((r.peakRss - r.baselineRss) / MiB).toFixed(0)} MiB` : ''}\n`);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const rawRate = median(rows.filter((x) => x.target === 'raw').map((x) => x.r.bytes / x.r.seconds));
    const c = cpus();
    console.log(`\nsnapshot pipeline, ${c.length} × ${c[0]?.model ?? 'CPU'}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}, Node ${process.version}, ${opt.zstd ? 'zstd + ' : ''}age to 1 recipient, etcd db ${(db / MiB).toFixed(0)} MiB\n`);
    console.log('| target | snapshot MiB | stored MiB | MB/s (median of runs) | × raw read | peak RSS MiB | RSS growth MiB | CPU ms/MB | main thread busy |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const target of opt.targets) {
      const rs = rows.filter((x) => x.target === target).map((x) => x.r);
      if (!rs.length) continue;
      const rate = median(rs.map((r) => r.bytes / r.seconds));
      const growth = rs[0]!.baselineRss ? Math.max(...rs.map((r) => r.peakRss - r.baselineRss)) / MiB : NaN;
      console.log(`| ${target} | ${(rs[0]!.bytes / MiB).toFixed(0)} | ${(rs[0]!.storedBytes / MiB).toFixed(0)} | ${(rate / 1e6).toFixed(0)} (${rs.map((r) => (r.bytes / 1e6 / r.seconds).toFixed(0)).join(', ')}) | ${(rate / rawRate).toFixed(2)} | ${(Math.max(...rs.map((r) => r.peakRss)) / MiB).toFixed(0)} | ${Number.isNaN(growth) ? '-' : growth.toFixed(0)} | ${Number.isNaN(rs[0]!.cpuSeconds) ? '-' : median(rs.map((r) => (r.cpuSeconds * 1000) / (r.bytes / 1e6))).toFixed(1)} | ${Number.isNaN(rs[0]!.mainBusy) ? '-' : `${Math.round(median(rs.map((r) => r.mainBusy)) * 100)} %`} |`);
    }
    // Where the CPU went, per MB of snapshot, medians of the runs: the client (or talosctl) and each process serving it.
    console.log(`\nCPU ms per MB by process during the transfers (median of runs; cores busy: all of them together, of ${c.length})\n`);
    console.log('| target | client | simulated node | its etcd | its Kubernetes | S3 server | all | cores busy |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const target of opt.targets) {
      const rs = rows.filter((x) => x.target === target && x.r.others).map((x) => x.r);
      if (!rs.length) continue;
      const perMB = (f: (r: Result) => number) => median(rs.map((r) => (f(r) * 1000) / (r.bytes / 1e6))).toFixed(1);
      const all = (r: Result) => r.cpuSeconds + r.others!.simulator + r.others!.etcd + r.others!.kubernetes + r.others!.s3;
      console.log(`| ${target} | ${perMB((r) => r.cpuSeconds)} | ${perMB((r) => r.others!.simulator)} | ${perMB((r) => r.others!.etcd)} | ${perMB((r) => r.others!.kubernetes)} | ${perMB((r) => r.others!.s3)} | ${perMB(all)} | ${median(rs.map((r) => all(r) / r.seconds)).toFixed(2)} |`);
    }
    return 0;
  } finally {
    await s3?.stop();
    if (sim && sim.exitCode === null) {
      sim.kill('SIGTERM');
      await new Promise((r) => sim!.once('exit', r));
    }
    if (!opt.keep) rmSync(tmp, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
