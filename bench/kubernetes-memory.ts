// What a simulated cluster with a real Kubernetes costs: starts `--nodes` (default 3cp,2w) with `kubernetes: 'real'`,
// waits until it is ready for workloads, lets it idle, then prints each process's resident memory (VmRSS, and its
// peak VmHWM) per node, the total per control plane, and the time to a usable cluster.
// Run: node -r ts-node/register/transpile-only bench/kubernetes-memory.ts [--nodes 3cp,2w] [--idle-s 30] [--time-scale 0.01]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseNodeCounts, SimulatedFleet } from '../src/simulator/fleet';

/** kB from a /proc/PID/status field. */
function statusKb(pid: number, field: string): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0);
}

/** CPU time a process used so far, in clock ticks (utime + stime from /proc/PID/stat). */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

interface Proc {
  pid: number;
  name: string;
  owner: string;
  rssKb: number;
  peakKb: number;
  ticks: number;
}

/** Every live process with an argument under `dir`: program name, the node directory it belongs to (or the cluster), RSS, CPU. */
function processes(dir: string): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const inside = argv.slice(1).find((a) => a.includes(`${dir}/`));
    if (!inside) continue;
    const owner = /\/nodes\/([^/]+)\//.exec(inside)?.[1] ?? 'cluster';
    const pid = Number(entry);
    out.push({ pid, name: basename(argv[0] ?? ''), owner, rssKb: statusKb(pid, 'VmRSS'), peakKb: statusKb(pid, 'VmHWM'), ticks: cpuTicks(pid) });
  }
  return out.sort((a, b) => a.owner.localeCompare(b.owner) || a.name.localeCompare(b.name));
}

const mib = (kb: number) => `${Math.round(kb / 1024)} MiB`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { nodes: { type: 'string', default: '3cp,2w' }, 'idle-s': { type: 'string', default: '30' }, 'time-scale': { type: 'string', default: '0.01' } } });
  const dir = mkdtempSync(join(tmpdir(), 'talos-fleet-k8s-bench-'));
  const fleet = new SimulatedFleet({ dir, nodes: parseNodeCounts(values.nodes, '127.0.210.11'), timeScale: Number(values['time-scale']), kubernetes: 'real' });
  try {
    const start = Date.now();
    const talosconfig = await fleet.provisionCluster({ clusterName: 'bench' });
    await fleet.start();
    await fleet.bootstrapCluster(talosconfig, { timeoutMs: 300_000 });
    const usable = Date.now() - start;
    const before = new Map(processes(dir).map((p) => [p.pid, p.ticks]));
    const idleMs = Number(values['idle-s']) * 1000;
    await new Promise((r) => setTimeout(r, idleMs));
    const procs = processes(dir);
    // Clock ticks are 1/100 s on Linux: ticks per idle second is the percentage of one core.
    const cpu = (p: Proc) => `${((p.ticks - (before.get(p.pid) ?? p.ticks)) / (idleMs / 1000)).toFixed(1)} %`;
    console.log(`${values.nodes} with a real Kubernetes, time scale ${values['time-scale']}, on ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}`);
    console.log(`ready for workloads ${(usable / 1000).toFixed(1)} s after provisioning; memory after ${values['idle-s']} s idle:\n`);
    console.log('| node | process | RSS | peak RSS | CPU while idle (of one core) |\n|---|---|---|---|---|');
    for (const p of procs) console.log(`| ${p.owner} | ${p.name} | ${mib(p.rssKb)} | ${mib(p.peakKb)} | ${cpu(p)} |`);
    const controlPlanes = [...new Set(procs.filter((p) => p.name === 'kube-apiserver').map((p) => p.owner))];
    for (const cp of controlPlanes) {
      const mine = procs.filter((p) => p.owner === cp);
      const k8s = mine.filter((p) => p.name.startsWith('kube-'));
      console.log(`\n${cp}: Kubernetes ${mib(k8s.reduce((s, p) => s + p.rssKb, 0))} (with etcd ${mib(mine.reduce((s, p) => s + p.rssKb, 0))})`);
    }
    console.log(`whole cluster: ${mib(procs.reduce((s, p) => s + p.rssKb, 0))}; the simulator itself: ${mib(process.memoryUsage().rss / 1024)}`);
  } finally {
    await fleet.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
