import { Readable } from 'node:stream';
import { TalosClient } from '../../src/talos/client';
import { collect, waitUntil } from '../support/fleet';
import { LocalNodes, settlesWithin } from './local-nodes';

const nodes = new LocalNodes(3);
const clients: TalosClient[] = [];
/** Every call the node received, by path; the node itself never answers. */
const received: string[] = [];
const NODE = 51030;

function client(endpoints: number[] = [NODE]): TalosClient {
  const c = TalosClient.withIdentity(nodes.admin, { endpoints: endpoints.map((p) => nodes.address(p)), timeoutMs: 10_000 });
  clients.push(c);
  return c;
}

const calls = (method: string) => received.filter((p) => p === `/machine.MachineService/${method}`).length;

beforeAll(async () => {
  await nodes.init();
  await nodes.h2(NODE, (_stream, _session, headers) => void received.push(String(headers[':path'])));
});

beforeEach(() => {
  received.length = 0;
});

afterAll(async () => {
  for (const c of clients) c.close();
  await nodes.stopAll();
});

describe('cancellation', () => {
  it('fails a call whose signal is already aborted before anything is sent, and keeps the reason', async () => {
    const c = client();
    const reason = new Error('the activity was cancelled');
    const signal = AbortSignal.abort(reason);
    const expected = { code: 'cancelled', mayHaveApplied: false, cause: reason };
    await expect(c.reset({ graceful: true, reboot: false }, {}, { signal })).rejects.toMatchObject(expected);
    await expect(c.upgrade({ image: 'ghcr.io/siderolabs/installer:v1.10.9' }, {}, { signal })).rejects.toMatchObject(expected);
    await expect(collect(c.logs({ id: 'etcd' }, {}, { signal }))).rejects.toMatchObject(expected);
    await expect(collect(c.etcdSnapshot({}, { signal }))).rejects.toMatchObject(expected);
    await expect(c.etcdRecover(Readable.from([Buffer.alloc(16)]), {}, { signal })).rejects.toMatchObject(expected);
    // Prove the node would have seen a call: one that is not cancelled reaches it.
    const done = new AbortController();
    const control = c.version({}, { signal: done.signal }).catch(() => undefined);
    await waitUntil('the control call to reach the node', () => received.length === 1, 5_000);
    expect(received).toEqual(['/machine.MachineService/Version']);
    done.abort();
    await control;
  });

  it('ends a call aborted while it runs as cancelled, saying the request may have reached the node', async () => {
    const c = client();
    const stop = new AbortController();
    const reason = new Error('operator pressed stop');
    const reboot = c.reboot({}, {}, { signal: stop.signal }).catch((e: unknown) => e);
    const upload = c.etcdRecover(Readable.from([Buffer.alloc(1024)]), {}, { signal: stop.signal }).catch((e: unknown) => e);
    await waitUntil('the reboot and the upload to reach the node', () => calls('Reboot') === 1 && calls('EtcdRecover') === 1, 5_000);
    stop.abort(reason);
    for (const pending of [reboot, upload]) {
      const err = await settlesWithin(pending, 2_000, 'an aborted call');
      expect(err).toMatchObject({ code: 'cancelled', mayHaveApplied: true, cause: reason });
      expect((err as Error).message).toMatch(/cancelled by the caller after the request was sent.*the request may have reached the node/);
    }
  });
});

describe('close()', () => {
  it('ends the calls in flight with code closed, and every call made afterwards', async () => {
    const c = client();
    const unary = c.version().catch((e: unknown) => e);
    const stream = collect(c.logs({ id: 'etcd', follow: true }, {}, { timeoutMs: Infinity })).catch((e: unknown) => e);
    const bytes = collect(c.etcdSnapshot({})).catch((e: unknown) => e);
    const upload = c.etcdRecover(Readable.from([Buffer.alloc(1024)]), {}).catch((e: unknown) => e);
    await waitUntil('four calls to reach the node', () => received.length === 4, 5_000);
    c.close();
    for (const pending of [unary, stream, bytes, upload]) {
      expect(await settlesWithin(pending, 2_000, 'a call in flight at close()')).toMatchObject({ code: 'closed', mayHaveApplied: true });
    }
    await expect(c.version()).rejects.toMatchObject({ code: 'closed', mayHaveApplied: false });
    await expect(collect(c.read('/etc/hostname', {}))).rejects.toMatchObject({ code: 'closed' });
    expect(received).toHaveLength(4);
  });

  it('closes at the end of an `await using` scope', async () => {
    let escaped: TalosClient | undefined;
    {
      await using c = client();
      escaped = c;
    }
    const err = (await escaped.version().catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'closed', mayHaveApplied: false });
    expect(err.message).toContain('the client is closed');
    expect(received).toEqual([]);
  });
});
