import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseQuery } from 'node:querystring';

/** One request the fake received, as the bot sent it (objects such as `blocks` and `view` decoded from JSON). */
export interface SlackCall {
  method: string;
  args: Record<string, unknown>;
  /** When it arrived (epoch ms). */
  at: number;
  /** What the fake answered: 200, or 429 when rate-limited. */
  status: number;
  /** The Retry-After the fake sent with a 429, in seconds. */
  retryAfter?: number;
  /** Whether it carried `Authorization: Bearer <the expected token>`. */
  authorized: boolean;
}

/** A message in the fake workspace, as it stands after every update. */
export interface FakeMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  reply_broadcast?: boolean;
  text: string;
  blocks: unknown[];
  /** Every version of it, first the posted one. */
  versions: { text: string; blocks: unknown[] }[];
}

/** A post to a command's `response_url`. */
export interface ResponsePost {
  id: string;
  body: { text?: string; response_type?: string; replace_original?: boolean };
  at: number;
}

/**
 * A fake Slack Web API on loopback: answers `POST /api/<method>` as Slack documents it (`{ok: true, …}`, or
 * `{ok: false, error}`), records every call, keeps the messages it was sent (so a test sees a message as a user
 * would, after all its updates), serves `response_url`s, and answers 429 with `Retry-After` when asked to.
 */
export class FakeSlack {
  readonly calls: SlackCall[] = [];
  readonly messages: FakeMessage[] = [];
  readonly responses: ResponsePost[] = [];
  /** Members of user groups, for `usergroups.users.list`. */
  readonly groups = new Map<string, string[]>();
  /** The URL `apps.connections.open` hands out (a Socket Mode server). */
  socketUrl?: string;
  private server?: Server;
  private port = 0;
  private nextTs = 1_700_000_000_000_100;
  private readonly limits = new Map<string, { intervalMs: number; last: number }>();

  constructor(private readonly token: string, private readonly appToken?: string) {}

  /** The Web API base URL to configure (`SLACK_API_URL`), with its trailing slash. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  /** A `response_url` for a command; its posts are recorded under `id`. */
  responseUrl(id: string): string {
    return `http://127.0.0.1:${this.port}/response/${id}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(({ status, body, headers }) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** From now on, calls of `methods` faster than one per `intervalMs` get 429 with Retry-After (Slack's limits). */
  rateLimit(methods: string[], intervalMs: number): void {
    for (const m of methods) this.limits.set(m, { intervalMs, last: 0 });
  }

  /** The calls of one method that were answered (not rate-limited). */
  answered(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method && c.status === 200);
  }

  /** The texts posted to the `response_url` of `id`, in order (a command's ephemeral replies). */
  repliesTo(id: string): string[] {
    return this.responses.filter((r) => r.id === id).map((r) => r.body.text ?? '');
  }

  /** Top-level messages of a channel (not thread replies). */
  channelMessages(channel: string): FakeMessage[] {
    return this.messages.filter((m) => m.channel === channel && !m.thread_ts);
  }

  /** Replies in a thread, in the order they were posted. */
  thread(channel: string, ts: string): FakeMessage[] {
    return this.messages.filter((m) => m.channel === channel && m.thread_ts === ts);
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
    const raw = await readAll(req);
    const path = req.url ?? '';
    if (path.startsWith('/response/')) {
      this.responses.push({ id: path.slice('/response/'.length), body: JSON.parse(raw || '{}') as ResponsePost['body'], at: Date.now() });
      return { status: 200, body: { ok: true } };
    }
    const method = path.replace(/^\/api\//, '').split('?')[0]!;
    const args = decode(raw, req.headers['content-type'] ?? '');
    const bearer = req.headers.authorization ?? '';
    const authorized = bearer === `Bearer ${this.token}` || (this.appToken !== undefined && bearer === `Bearer ${this.appToken}`);
    const call: SlackCall = { method, args, at: Date.now(), status: 200, authorized };
    this.calls.push(call);
    const limit = this.limits.get(method);
    if (limit) {
      const elapsed = call.at - limit.last;
      if (elapsed < limit.intervalMs) {
        call.status = 429;
        call.retryAfter = Math.max(1, Math.ceil((limit.intervalMs - elapsed) / 1000));
        return { status: 429, body: { ok: false, error: 'ratelimited' }, headers: { 'retry-after': String(call.retryAfter) } };
      }
      limit.last = call.at;
    }
    if (!authorized) return { status: 200, body: { ok: false, error: 'invalid_auth' } };
    return { status: 200, body: this.answer(method, args) };
  }

  private answer(method: string, args: Record<string, unknown>): Record<string, unknown> {
    const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v));
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://fake.slack.test/', team: 'fake', user: 'talos-fleet', team_id: 'T0FAKE', user_id: 'U0BOT', bot_id: 'B0BOT' };
      case 'apps.connections.open':
        return this.socketUrl ? { ok: true, url: this.socketUrl } : { ok: false, error: 'invalid_auth' };
      case 'chat.postMessage': {
        const channel = str(args.channel);
        if (!channel) return { ok: false, error: 'channel_not_found' };
        const ts = this.ts();
        const message: FakeMessage = {
          channel,
          ts,
          ...(args.thread_ts ? { thread_ts: str(args.thread_ts) } : {}),
          ...(args.reply_broadcast === true || args.reply_broadcast === 'true' ? { reply_broadcast: true } : {}),
          text: str(args.text),
          blocks: (args.blocks as unknown[]) ?? [],
          versions: [],
        };
        message.versions.push({ text: message.text, blocks: message.blocks });
        this.messages.push(message);
        return { ok: true, channel, ts, message: { type: 'message', text: message.text, ts } };
      }
      case 'chat.update': {
        const message = this.messages.find((m) => m.channel === args.channel && m.ts === args.ts);
        if (!message) return { ok: false, error: 'message_not_found' };
        message.text = str(args.text);
        message.blocks = (args.blocks as unknown[]) ?? [];
        message.versions.push({ text: message.text, blocks: message.blocks });
        return { ok: true, channel: message.channel, ts: message.ts, text: message.text };
      }
      case 'chat.postEphemeral':
        return { ok: true, message_ts: this.ts() };
      case 'views.open':
        return { ok: true, view: { id: `V${this.calls.length}`, ...(args.view as object) } };
      case 'usergroups.users.list': {
        const users = this.groups.get(str(args.usergroup));
        return users ? { ok: true, users } : { ok: false, error: 'no_such_subteam' };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  private ts(): string {
    const n = this.nextTs++;
    return `${Math.floor(n / 1_000_000)}.${String(n % 1_000_000).padStart(6, '0')}`;
  }
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** The Web API's argument encodings: form-urlencoded (objects as JSON strings) or JSON. */
function decode(raw: string, contentType: string): Record<string, unknown> {
  if (!raw) return {};
  if (contentType.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parseQuery(raw))) {
    const s = Array.isArray(v) ? v[0] : v;
    out[k] = typeof s === 'string' && /^[[{]/.test(s) ? JSON.parse(s) : s;
  }
  return out;
}

/** Every text of a message's blocks joined (what a user reads), plus its fallback text. */
export function messageText(m: { text: string; blocks: unknown[] }): string {
  const texts: string[] = [m.text];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'text' && typeof x === 'string') texts.push(x);
        else visit(x);
      }
    }
  };
  visit(m.blocks);
  return texts.join('\n');
}

/** The action ids of a message's buttons (none once a gate is decided). */
export function buttons(m: { blocks: unknown[] }): string[] {
  return (m.blocks as { type: string; elements?: { action_id?: string }[] }[]).filter((b) => b.type === 'actions').flatMap((b) => (b.elements ?? []).map((e) => e.action_id ?? ''));
}
