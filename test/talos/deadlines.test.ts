import { Readable } from 'node:stream';
import { TalosClient } from '../../src/talos/client';
import { collect } from '../support/fleet';
import { LocalNodes, settlesWithin } from './local-nodes';

const nodes = new LocalNodes(2);
const clients: TalosClient[] = [];
const SILENT = 51020;

function client(endpoints: number[], timeoutMs: number): TalosClient {
  const c = TalosClient.withIdentity(nodes.admin, { endpoints: endpoints.map((p) => nodes.address(p)), timeoutMs });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  await nodes.init();
  await nodes.silent(SILENT);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await nodes.stopAll();
});

describe('every call has a deadline', () => {
  it('gives up on bootId, kubeconfig and etcdRecover at the deadline when the node never answers', async () => {
    // Long enough for the TLS handshake on a loaded machine, so the request is sent before the deadline hits.
    const c = client([SILENT], 2_000);
    const expected = { code: 'deadline_exceeded', retryable: true, mayHaveApplied: true };
    await expect(settlesWithin(c.bootId({}), 10_000, 'bootId')).rejects.toMatchObject(expected);
    await expect(settlesWithin(c.kubeconfig({}), 10_000, 'kubeconfig')).rejects.toMatchObject(expected);
    const err = await settlesWithin(c.etcdRecover(Readable.from([Buffer.alloc(1024)]), {}), 10_000, 'etcdRecover').catch((e: unknown) => e);
    expect(err).toMatchObject(expected);
    expect((err as Error).message).toMatch(/the request may have reached the node/);
  });

  it('ends a stream at the deadline by default, and keeps one open with timeoutMs: Infinity until the signal ends it', async () => {
    const c = client([SILENT], 300);
    await expect(settlesWithin(collect(c.logs({ id: 'kubelet', follow: true })), 5_000, 'logs')).rejects.toMatchObject({ code: 'deadline_exceeded' });
    const stop = new AbortController();
    const reason = new Error('done following');
    const following = collect(c.logs({ id: 'kubelet', follow: true }, {}, { timeoutMs: Infinity, signal: stop.signal }));
    let ended = false;
    void following.then(
      () => (ended = true),
      () => (ended = true),
    );
    // Asserting that nothing ends takes time by nature: three default deadlines pass without the stream ending.
    await new Promise((resolve) => setTimeout(resolve, 900));
    expect(ended).toBe(false);
    stop.abort(reason);
    await expect(following).rejects.toMatchObject({ code: 'cancelled', cause: reason });
  });

  it('shares one deadline across the endpoints it fails over to, instead of a full one each', async () => {
    // Each endpoint drops the connection 700 ms into the TLS handshake: the first one uses most of a 1 s deadline,
    // and the second one must get only what is left of it.
    await nodes.stalling(51021, 700);
    await nodes.stalling(51022, 700);
    await expect(client([51021, 51022], 1_000).version()).rejects.toMatchObject({ code: 'deadline_exceeded', mayHaveApplied: false });
  });

  it('refuses a timeout that is not a positive number of milliseconds', async () => {
    const c = client([SILENT], 300);
    for (const timeoutMs of [0, -1, Number.NaN]) {
      await expect(c.version({}, { timeoutMs })).rejects.toMatchObject({ code: 'invalid_option' });
    }
    expect(() => client([SILENT], 0)).toThrow(/timeoutMs must be a positive number of milliseconds, or Infinity/);
    expect(() => client([SILENT], Infinity)).toThrow(/timeoutMs of a client must be finite/);
  });
});

describe('byte streams come from one node', () => {
  it('refuses etcdSnapshot, read, kubeconfig and etcdRecover for several nodes instead of interleaving their bytes', async () => {
    const c = client([SILENT], 300);
    const two = { nodes: ['10.0.0.2', '10.0.0.3'] };
    expect(() => c.etcdSnapshot(two)).toThrow(/EtcdSnapshot streams bytes from one node, but 2 were given \(10\.0\.0\.2, 10\.0\.0\.3\).*once per node/);
    expect(() => c.read('/proc/sys/kernel/random/boot_id', two)).toThrow(/Read streams bytes from one node/);
    await expect(c.kubeconfig(two)).rejects.toMatchObject({ code: 'invalid_target' });
    await expect(c.etcdRecover(Readable.from([Buffer.alloc(16)]), two)).rejects.toMatchObject({ code: 'invalid_target' });
  });
});
