import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clockTicks: number | undefined;
/** The kernel's clock ticks per second, in which /proc/PID/stat counts CPU time (asked once, when first needed). */
function ticksPerSecond(): number {
  return (clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100);
}

/** A process as /proc/PID/stat shows it. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  /** R, S, D, Z (zombie: exited, not yet reaped), ... */
  state: string;
  /** Clock ticks after boot: with the pid, names one process even when the pid is reused. */
  start: string;
  /** The program's name (the kernel's `comm`, at most 15 characters). */
  comm: string;
  /** Its arguments, the program first; empty for a zombie (it no longer runs) and for a kernel thread. */
  argv: string[];
  cmdline: string;
  /** CPU time it has used so far, user and system, in seconds. */
  cpuSeconds: number;
}

/** One process as /proc shows it now, or undefined when it is gone. */
export function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "PID (COMM) STATE PPID PGRP ...": the name may hold spaces and parentheses, so split after its last ')'.
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    let argv: string[] = [];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
    } catch {
      // Gone between the two reads.
    }
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
    return { pid, ppid: Number(fields[1]), pgid: Number(fields[2]), state: fields[0]!, start: fields[19]!, comm: stat.slice(stat.indexOf('(') + 1, close), argv, cmdline: argv.join(' ').trim(), cpuSeconds };
  } catch {
    return undefined;
  }
}

/** Every process on the machine, from /proc (including ones whose parent is gone). */
export function allProcesses(): ProcessInfo[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => readProcess(Number(p)) ?? []);
}

/** `start` and every process descended from them by parent links, in one look at /proc (`all`). */
export function withDescendants(all: ProcessInfo[], start: ProcessInfo[]): ProcessInfo[] {
  const children = new Map<number, ProcessInfo[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const tree = [...start];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!.pid) ?? []));
  return tree;
}

/** Whether this very process (same pid, same start time) still runs; a zombie has exited and does not count. */
export function stillRunning(p: ProcessInfo): boolean {
  const now = readProcess(p.pid);
  return now !== undefined && now.start === p.start && now.state !== 'Z';
}

/** Records every process descended from a root, sampled while it runs. */
export interface ProcessTreeRecord {
  /** Takes a sample now (also done every `intervalMs`). */
  sample(): void;
  /** Every process seen in the tree so far, the root included. */
  seen(): ProcessInfo[];
  /** Those of them that still run. */
  running(): ProcessInfo[];
  /** Stops sampling. */
  stop(): void;
}

/**
 * Samples /proc every `intervalMs` and records every descendant of `root` (by parent links) and every member of its
 * process group. A child that gives itself a process group of its own, or whose parent dies and leaves it to init,
 * is still counted: it was seen in the tree while its parent ran.
 */
export function recordProcessTree(root: number, intervalMs = 300): ProcessTreeRecord {
  const seen = new Map<string, ProcessInfo>();
  const sample = () => {
    const all = allProcesses();
    for (const p of withDescendants(all, all.filter((q) => q.pid === root || q.pgid === root))) {
      // The newest look at a process wins (a fork seen before its exec was still "node"), except a zombie's, whose
      // cmdline is empty.
      const key = `${p.pid}:${p.start}`;
      if (!seen.has(key) || p.state !== 'Z') seen.set(key, p);
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    sample,
    seen: () => [...seen.values()],
    running: () => [...seen.values()].filter(stillRunning),
    stop: () => clearInterval(timer),
  };
}
