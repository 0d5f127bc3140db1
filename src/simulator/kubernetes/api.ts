import { Agent, request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { FleetError } from '../../errors';
import type { CertificateAndKey } from '../../config/certs';

/** An answer of the Kubernetes API other than 2xx: its HTTP status and the Status object's reason and message. */
export class KubernetesApiError extends FleetError {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super('kubernetes_api', message, { retryable: status === 429 || status >= 500 });
  }
}

/** One event of a watch: ADDED, MODIFIED, DELETED (BOOKMARK and ERROR are handled by {@link KubernetesApi.watch}). */
export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: T;
}

/** The fields of an object the simulator reads. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  ownerReferences?: { apiVersion?: string; kind: string; name: string; uid?: string; controller?: boolean }[];
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface List<T> {
  metadata: { resourceVersion: string };
  items: T[];
}

interface RequestOptions {
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ETIMEDOUT', 'ERR_SOCKET_CONNECTION_TIMEOUT']);

/**
 * A small client for the simulator's own calls to the Kubernetes API: JSON requests with a client certificate from
 * the cluster CA, sent to the first API server that answers (a connection refused moves on to the next), and watches.
 * The product's own code and the tests use @kubernetes/client-node instead; this keeps the simulator's needs small.
 */
export class KubernetesApi {
  private readonly agent: Agent;

  constructor(
    /** `https://addr:port` of the API servers to try, in order; asked on every call, so it follows the fleet. */
    private readonly servers: () => string[],
    ca: string,
    client: CertificateAndKey,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 16, ca, cert: client.crt, key: client.key });
  }

  close(): void {
    this.agent.destroy();
  }

  /** Sends one request and returns the decoded JSON answer; fails over to the next server only when a connection fails. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const servers = this.servers();
    if (!servers.length) throw new KubernetesApiError(503, 'ServiceUnavailable', `${method} ${path}: no kube-apiserver of the cluster is running`);
    let lastError: unknown;
    for (const server of servers) {
      try {
        return await this.once<T>(server, method, path, opts);
      } catch (err) {
        if (!CONNECTION_ERRORS.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
        lastError = err;
      }
    }
    throw new KubernetesApiError(503, 'ServiceUnavailable', `${method} ${path}: no kube-apiserver answered (${(lastError as Error).message})`);
  }

  private once<T>(server: string, method: string, path: string, opts: RequestOptions): Promise<T> {
    const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    return new Promise<T>((resolve, reject) => {
      const req = request(
        `${server}${path}`,
        {
          method,
          agent: this.agent,
          timeout: opts.timeoutMs ?? 10_000,
          headers: { accept: 'application/json', ...(payload !== undefined ? { 'content-type': opts.contentType ?? 'application/json' } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve((text ? JSON.parse(text) : {}) as T);
            reject(apiError(method, path, status, text));
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error(`${method} ${path}: no answer within ${opts.timeoutMs ?? 10_000} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(payload);
    });
  }

  get<T = KubeObject>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** The object, or undefined when it does not exist. */
  async find<T = KubeObject>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (err) {
      if (err instanceof KubernetesApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  create<T = KubeObject>(collection: string, body: unknown): Promise<T> {
    return this.request<T>('POST', collection, { body });
  }

  /** A JSON merge patch (RFC 7386). */
  mergePatch<T = KubeObject>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body, contentType: 'application/merge-patch+json' });
  }

  /** Server-side apply, as `kubectl apply --server-side` with the given field manager. */
  apply<T = KubeObject>(path: string, body: unknown, fieldManager: string): Promise<T> {
    return this.request<T>('PATCH', `${path}?fieldManager=${encodeURIComponent(fieldManager)}&force=true`, { body, contentType: 'application/apply-patch+yaml' });
  }

  /** Deletes an object; a missing one counts as deleted. */
  async delete(path: string, gracePeriodSeconds?: number): Promise<void> {
    try {
      await this.request('DELETE', gracePeriodSeconds === undefined ? path : `${path}?gracePeriodSeconds=${gracePeriodSeconds}`);
    } catch (err) {
      if (!(err instanceof KubernetesApiError && err.status === 404)) throw err;
    }
  }

  /**
   * Lists `path` and then follows its changes until `signal` aborts: `onSync` gets the full list (again after each
   * reconnect), `onEvent` every change. Connection losses and expired watches start over after `retryMs`.
   */
  async watch<T extends KubeObject>(path: string, handlers: { onSync: (items: T[]) => void; onEvent: (event: WatchEvent<T>) => void }, signal: AbortSignal, retryMs = 500): Promise<void> {
    while (!signal.aborted) {
      try {
        const list = await this.get<List<T>>(path);
        handlers.onSync(list.items);
        await this.follow(path, list.metadata.resourceVersion, handlers.onEvent, signal);
      } catch {
        // The API server went away or the watch expired: list again.
      }
      if (!signal.aborted) await new Promise((r) => setTimeout(r, retryMs));
    }
  }

  private follow<T>(path: string, resourceVersion: string, onEvent: (e: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> {
    const server = this.servers()[0];
    if (!server) return Promise.reject(new Error('no kube-apiserver'));
    const sep = path.includes('?') ? '&' : '?';
    return new Promise<void>((resolve, reject) => {
      const req = request(`${server}${path}${sep}watch=true&allowWatchBookmarks=true&resourceVersion=${resourceVersion}`, { method: 'GET', agent: this.agent, headers: { accept: 'application/json' } }, (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`watch ${path}: HTTP ${res.statusCode}`));
        }
        let buffer = '';
        res.on('data', (chunk: Buffer) => {
          buffer += chunk.toString('utf8');
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (!line) continue;
            const event = JSON.parse(line) as { type: string; object: T };
            if (event.type === 'ERROR') return req.destroy(new Error(`watch ${path}: ${JSON.stringify(event.object)}`));
            if (event.type === 'ADDED' || event.type === 'MODIFIED' || event.type === 'DELETED') onEvent(event as WatchEvent<T>);
          }
        });
        res.on('end', resolve);
        res.on('error', reject);
      });
      const onAbort = () => req.destroy();
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => signal.removeEventListener('abort', onAbort));
      req.on('error', (err) => (signal.aborted ? resolve() : reject(err)));
      req.end();
    });
  }
}

function apiError(method: string, path: string, status: number, text: string): KubernetesApiError {
  let reason = '';
  let message = text.slice(0, 300).trim();
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    reason = s.reason ?? '';
    message = s.message ?? message;
  } catch {
    // not a Status object
  }
  return new KubernetesApiError(status, reason, `${method} ${path}: ${status} ${reason}: ${message}`);
}
