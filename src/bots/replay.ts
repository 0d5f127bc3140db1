import type { IncomingMessage, ServerResponse } from 'node:http';
import { isValidSlackRequest, type Logger } from '@slack/bolt';

/** How long Slack's signatures are accepted (Bolt refuses timestamps older than five minutes). */
export const SIGNATURE_WINDOW_MS = 5 * 60_000;

/**
 * Refuses a signed request that was already received: Bolt checks the signature and refuses stale timestamps, but
 * a request captured in transit verifies for five minutes. Each (timestamp, signature) pair is admitted once and
 * forgotten when its window is over. Only requests whose signature verifies are remembered, so forged traffic
 * cannot fill it.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** True the first time the pair is seen within its window; false for a replay. */
  admit(timestamp: string, signature: string): boolean {
    const now = this.now();
    for (const [key, expires] of this.seen) {
      if (expires > now) break;
      this.seen.delete(key);
    }
    const key = `${timestamp}:${signature}`;
    if (this.seen.has(key)) return false;
    this.seen.set(key, now + SIGNATURE_WINDOW_MS);
    return true;
  }

  /** Checks one request: true to let it through (unsigned and badly signed requests are left to Bolt to refuse). */
  check(signingSecret: string, body: string, timestamp: string | undefined, signature: string | undefined): boolean {
    if (!timestamp || !signature) return true;
    const valid = isValidSlackRequest({ signingSecret, body, headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': Number(timestamp) } });
    return !valid || this.admit(timestamp, signature);
  }
}

const MAX_BODY = 1024 * 1024;

/** The body, or undefined when it is larger than MAX_BODY (read with events: cheaper than the async iterator, per request). */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.once('end', () => resolve(size > MAX_BODY ? undefined : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/**
 * Wraps an HTTP request listener (HTTPReceiver's) with the replay guard. The body is read here and handed on as
 * `rawBody`, which Bolt uses instead of reading the stream again, so Bolt still verifies the same bytes.
 */
export function guardRequests(listener: (req: IncomingMessage, res: ServerResponse) => void, signingSecret: string, guard: ReplayGuard, logger: Logger) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'POST') return listener(req, res);
    readBody(req).then(
      (body) => {
        if (!body) {
          res.writeHead(413).end();
          return;
        }
        const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name]) : undefined);
        if (!guard.check(signingSecret, body.toString(), header('x-slack-request-timestamp'), header('x-slack-signature'))) {
          logger.warn('refused a replayed request (its signature was already used)');
          res.writeHead(401).end();
          return;
        }
        (req as IncomingMessage & { rawBody: Buffer }).rawBody = body;
        listener(req, res);
      },
      (err: Error) => {
        logger.error(`reading a request failed: ${err.message}`);
        res.writeHead(400).end();
      },
    );
  };
}
