import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { FleetError } from '../errors';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import { describeExit, spawnGuarded } from '../tools/children';
import { delay } from '../time';

/** How to start a Temporal CLI dev server. */
export interface DevServerOptions {
  /** The `temporal` binary (provisioned by `npm run tools`). */
  binary: string;
  ip?: string;
  port: number;
  /** Web UI port; none (headless) when omitted. */
  uiPort?: number;
  /** SQLite file that keeps history across restarts; in memory when omitted. */
  dbFile?: string;
  namespace?: string;
  /** Where the server's own log goes. */
  logFile: string;
  startTimeoutMs?: number;
}

/** A running dev server. */
export interface DevServer {
  address: string;
  namespace: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** `--search-attribute NAME=Keyword` for every custom attribute, so runs can be filtered from the first one. */
export function searchAttributeArgs(): string[] {
  return SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=${k.type === 'KEYWORD' ? 'Keyword' : k.type}`]);
}

/**
 * Starts `temporal server start-dev` and waits until it answers. The server's log goes to a file; a server that
 * exits or does not answer in time is an error naming that file.
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const namespace = opts.namespace ?? 'default';
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(opts.port), '--namespace', namespace, '--log-level', 'warn', ...searchAttributeArgs()];
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort), '--ui-ip', ip);
  else args.push('--headless');
  if (opts.dbFile) {
    mkdirSync(dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const log = openSync(opts.logFile, 'a');
  // Guarded: the server dies with us, even when we are SIGKILLed, so no dev server is left holding the port.
  const { child, exited: exit } = spawnGuarded(opts.binary, args, { stdio: ['ignore', log, log] });
  closeSync(log);
  let exited: string | undefined;
  void exit.then((e) => (exited = describeExit(e)));
  const address = `${ip}:${opts.port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    if (exited) throw new FleetError('temporal_failed', `the Temporal dev server stopped (${exited}); see ${opts.logFile}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new FleetError('temporal_failed', `the Temporal dev server did not answer at ${address} within ${opts.startTimeoutMs ?? 60_000} ms; see ${opts.logFile}`);
      }
      await delay(200);
    }
  }
  return {
    address,
    namespace,
    ...(opts.uiPort ? { uiUrl: `http://${ip === '127.0.0.1' ? 'localhost' : ip}:${opts.uiPort}` } : {}),
    process: child,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    },
  };
}
