import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { TalosApi } from '../../src/talos/api';
import type { CallOptions } from '../../src/talos/connection';
import { FleetError } from '../../src/errors';
import { TalosApiError } from '../../src/talos/errors';
import { onlyValue } from '../../src/talos/replies';
import { collect, startFleet, TEST_TIME_SCALE, type TestFleet } from '../support/fleet';

let t: TestFleet;
let cp1: string, w1: string, nobody: string;

beforeAll(async () => {
  t = await startFleet({ nodes: '1cp,1w', state: 'bootstrapped' });
  [cp1, w1] = [t.addr('cp-1'), t.addr('w-1')];
  nobody = cp1.replace(/\.\d+$/, '.250');
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

/** What an activity would do: it sees only the interface. */
async function hostnames(talos: TalosApi, nodes: string[], options?: { timeoutMs?: number }): Promise<(string | TalosApiError)[]> {
  const results = await talos.forEachNode(nodes, (target, callOptions) => talos.hostname(target, callOptions), options);
  return results.map((r) => r.error ?? r.value.hostname);
}

describe('a node that reboots', () => {
  // Straight to the node (its own connection closes under us) and through another node's apid, as activities poll.
  it.each([
    ['straight to the node', () => ({ endpoints: [w1], target: {} })],
    ['through another endpoint', () => ({ endpoints: [cp1], target: { node: w1 } })],
  ])(`a reboot of a node at time scale ${TEST_TIME_SCALE} followed by polling it through the client yields retryable errors until the node answers, then success (%s)`, async (_how, route) => {
    const { endpoints, target } = route();
    const client = t.client(endpoints);
    const reboots = () => t.fleet.node('w-1').record.filter((r) => r.method === 'Reboot').length;
    const rebootsBefore = reboots();
    const before = await client.bootId(target);
    onlyValue(await client.reboot({}, target));
    const errors: unknown[] = [];
    let after: string | undefined;
    const deadline = Date.now() + 30_000;
    while (after === undefined && Date.now() < deadline) {
      try {
        const id = await client.bootId(target);
        onlyValue(await client.version(target));
        if (id !== before) after = id;
      } catch (err) {
        errors.push(err);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(after).toMatch(/^[0-9a-f-]{36}$/);
    // The node was down for a while: polling saw it, and every error said "try again".
    expect(errors.length).toBeGreaterThan(0);
    const notRetryable = errors.filter((e) => !(e instanceof TalosApiError && e.retryable)).map((e) => (e as Error).message);
    expect(notRetryable).toEqual([]);
    expect(reboots()).toBe(rebootsBefore + 1);
  });
});

describe('cancellation', () => {
  it('never sends an Upgrade or a Reset whose signal was already aborted: the node records neither', async () => {
    const client = t.client([cp1]);
    const signal = AbortSignal.abort(new Error('workflow cancelled'));
    await expect(client.upgrade({ image: 'ghcr.io/siderolabs/installer:v1.10.9' }, { node: w1 }, { signal })).rejects.toMatchObject({ code: 'cancelled', mayHaveApplied: false });
    await expect(client.reset({ graceful: false, reboot: true }, { node: w1 }, { signal })).rejects.toMatchObject({ code: 'cancelled', mayHaveApplied: false });
    expect(t.fleet.node('w-1').record.filter((r) => r.method === 'Upgrade' || r.method === 'Reset')).toEqual([]);
    expect(onlyValue(await client.version({ node: w1 })).version!.tag).toBe('v1.10.9');
  });
});

describe('failover between endpoints', () => {
  it('moves server streams, byte streams and client streams to the next endpoint when the first cannot be reached', async () => {
    const client = t.client([nobody, cp1]);
    expect(await client.bootId({ node: w1 })).toMatch(/^[0-9a-f-]{36}$/);
    const logs = await collect(client.logs({ id: 'kubelet' }, { node: w1 }));
    expect(logs.length).toBeGreaterThan(0);
    const snapshot = join(t.dir, 'failover.snapshot');
    await pipeline(client.etcdSnapshot({ node: cp1 }), createWriteStream(snapshot));
    // A worker refuses the upload: the answer proves the stream reached a node through the second endpoint.
    await expect(client.etcdRecover(createReadStream(snapshot), { node: w1 })).rejects.toMatchObject({ code: 'unimplemented' });
  });
});

describe('one call per node', () => {
  it('sends one call per node with `node`, in the order given, a dead node becoming its own error entry', async () => {
    const results = await hostnames(t.client([cp1]), [w1, nobody, cp1]);
    expect(results[0]).toBe('w-1');
    expect(results[1]).toBeInstanceOf(TalosApiError);
    expect(results[1]).toMatchObject({ code: 'unavailable', retryable: true, node: nobody });
    expect(results[2]).toBe('cp-1');
  });

  it('gives each node its own deadline', async () => {
    const client = t.client([cp1]);
    const seen: CallOptions[] = [];
    await client.forEachNode([w1, cp1], (target, options) => {
      seen.push(options);
      return client.version(target, options);
    }, { timeoutMs: 4_321 });
    expect(seen.map((o) => o.timeoutMs)).toEqual([4_321, 4_321]);
    // One-to-one replies carry no apid stamp: each went out with `node`, not `nodes`.
    const replies = await client.forEachNode([w1], (target, options) => client.version(target, options));
    expect(replies[0]).toMatchObject({ node: w1 });
    expect(replies[0]!.value!.metadata?.hostname ?? '').toBe('');
  });

  it('throws a mistake in the call itself instead of reporting it per node', async () => {
    const client = t.client([cp1]);
    const mistake = new FleetError('invalid_target', 'a bad target');
    await expect(client.forEachNode([w1, cp1], () => Promise.reject(mistake))).rejects.toBe(mistake);
  });
});
