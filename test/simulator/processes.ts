import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { basename } from 'node:path';

/**
 * Pids of live etcd processes whose --data-dir lies under `dir`, read from /proc: it sees every process on the
 * machine, including ones whose parent is gone, which is the point.
 */
export function etcdProcessesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      // A zombie's cmdline is empty: it no longer runs, so it is rightly not counted.
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (basename(argv[0] ?? '') === 'etcd' && argv.some((a) => a.startsWith(`--data-dir=${dir}/`))) pids.push(Number(entry));
  }
  return pids;
}

/** True when something accepts TCP connections on host:port. */
export function listens(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Live processes (pid and program name) with an argument naming a path under `dir`: every helper a fleet there started. */
export function processesUnder(dir: string): { pid: number; name: string }[] {
  const found: { pid: number; name: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv.slice(1).some((a) => a.includes(`${dir}/`))) found.push({ pid: Number(entry), name: basename(argv[0] ?? '') });
  }
  return found;
}
