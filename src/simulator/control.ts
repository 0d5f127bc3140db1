import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { FleetError } from '../errors';
import { parseFault } from './faults';
import type { NodeStatus, SimulatedFleet } from './fleet';

/** What `sim up` writes to DIR/sim.json for other processes. */
export interface SimManifest {
  nodes: { name: string; role: 'controlplane' | 'worker'; address: string; port: number; etcdClientUrl?: string }[];
  timeScale: number;
  /** Unix socket of the control endpoint (status and faults). */
  control: string;
  /** Admin talosconfig of a bootstrapped fleet. */
  talosconfig?: string;
}

/** Unix sockets have a short path limit; a control socket must fit. */
const MAX_SOCKET_PATH = 100;

/** The control endpoint's socket in a fleet directory. */
export function controlSocketPath(dir: string): string {
  const path = join(dir, 'control.sock');
  if (path.length > MAX_SOCKET_PATH) throw new FleetError('dir_too_long', `--dir ${dir} is too long for the control socket (${path.length} > ${MAX_SOCKET_PATH} characters); use a shorter path`);
  return path;
}

/** Serves status and fault injection for a running fleet on a loopback-only Unix socket. */
export async function serveControl(fleet: SimulatedFleet, socketPath: string): Promise<Server> {
  rmSync(socketPath, { force: true });
  const server = createServer((req, res) => {
    const reply = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/status') return reply(200, fleet.status());
    if (req.method === 'POST' && req.url === '/fault') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { node?: unknown; fault?: unknown };
            if (typeof body.node !== 'string' || typeof body.fault !== 'string') throw new FleetError('invalid_fault', 'a fault request needs "node" and "fault" strings');
            await fleet.fault(body.node, body.fault);
            reply(200, { ok: true });
          } catch (err) {
            reply(400, { error: (err as Error).message });
          }
        })();
      });
      return;
    }
    reply(404, { error: `unknown control request ${req.method} ${req.url}` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return server;
}

/** Reads DIR/sim.json, with an error that says how to start a fleet when there is none or the file is damaged. */
export function readManifest(dir: string): SimManifest {
  const path = join(dir, 'sim.json');
  if (!existsSync(path)) throw new FleetError('no_fleet', `no simulated fleet runs in ${dir} (${path} is missing): start one with \`talos-fleet sim up --dir ${dir}\``);
  const damaged = (why: string) =>
    new FleetError('bad_manifest', `${path} is not a fleet manifest written by \`talos-fleet sim up\` (${why}); if no fleet runs in ${dir}, delete it and start one with \`talos-fleet sim up --dir ${dir}\``);
  let manifest: Partial<SimManifest>;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as Partial<SimManifest>;
  } catch (err) {
    throw damaged(err instanceof SyntaxError ? 'it is not valid JSON' : (err as Error).message);
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw damaged('it is not a JSON object');
  if (typeof manifest.control !== 'string' || manifest.control === '') throw damaged('"control" is missing');
  if (!Array.isArray(manifest.nodes)) throw damaged('"nodes" is missing');
  return manifest as SimManifest;
}

function call<T>(socketPath: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let parsed: T & { error?: string };
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as T & { error?: string };
        } catch {
          return reject(new FleetError('control_failed', `the control endpoint ${socketPath} answered ${res.statusCode} with something other than JSON: is it a simulator's?`));
        }
        if (res.statusCode !== 200) reject(new FleetError('control_failed', parsed.error ?? `control endpoint answered ${res.statusCode}`));
        else resolve(parsed);
      });
    });
    req.on('timeout', () => req.destroy(new Error('the simulator did not answer within 10 s')));
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(new FleetError('control_unreachable', err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? `the simulator for ${socketPath} is not running (start it with \`talos-fleet sim up\`)` : err.message)),
    );
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Status of every node of the fleet running in `dir`. */
export function fetchStatus(dir: string): Promise<NodeStatus[]> {
  return call(readManifest(dir).control, 'GET', '/status');
}

/** Injects a fault into a node of the fleet running in `dir`: `down`, `down@install`, `slow-reboot=5`, ... */
export async function injectFault(dir: string, node: string, fault: string): Promise<void> {
  parseFault(fault);
  await call(readManifest(dir).control, 'POST', '/fault', { node, fault });
}
