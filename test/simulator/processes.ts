import { connect } from 'node:net';
import { basename } from 'node:path';
import { allProcesses } from '../support/process-tree';

/**
 * Pids of live etcd processes whose --data-dir lies under `dir`, read from /proc: it sees every process on the
 * machine, including ones whose parent is gone, which is the point. A zombie has no arguments: it no longer runs,
 * so it is rightly not counted.
 */
export function etcdProcessesUnder(dir: string): number[] {
  return allProcesses()
    .filter((p) => basename(p.argv[0] ?? '') === 'etcd' && p.argv.some((a) => a.startsWith(`--data-dir=${dir}/`)))
    .map((p) => p.pid);
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
  return allProcesses()
    .filter((p) => p.pid !== process.pid && p.argv.slice(1).some((a) => a.includes(`${dir}/`)))
    .map((p) => ({ pid: p.pid, name: basename(p.argv[0] ?? '') }));
}
