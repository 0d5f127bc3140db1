import { Readable } from 'node:stream';
import { TalosClient } from '../../src/talos/client';
import { collect } from '../support/fleet';
import { LocalNodes } from './local-nodes';

const nodes = new LocalNodes(4);
const clients: TalosClient[] = [];
const DROPPING = 51040;
const SECOND = 51041;
/** Every call the second endpoint received, by path. */
const reachedSecond: string[] = [];

function client(endpoints: number[]): TalosClient {
  const c = TalosClient.withIdentity(nodes.admin, { endpoints: endpoints.map((p) => nodes.address(p)), timeoutMs: 5_000 });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  await nodes.init();
  await nodes.dropping(DROPPING);
  await nodes.h2(SECOND, (stream, _session, headers) => {
    reachedSecond.push(String(headers[':path']));
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'second endpoint' }, { endStream: true });
  });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await nodes.stopAll();
});

describe('failover between endpoints', () => {
  it('never repeats a call on the next endpoint once the request was sent to the first', async () => {
    const c = client([DROPPING, SECOND]);
    const sent = { code: 'unavailable', retryable: true, mayHaveApplied: true };
    await expect(c.reboot({})).rejects.toMatchObject(sent);
    await expect(collect(c.logs({ id: 'etcd' }))).rejects.toMatchObject(sent);
    await expect(collect(c.etcdSnapshot({}))).rejects.toMatchObject(sent);
    await expect(c.etcdRecover(Readable.from([Buffer.alloc(1024)]), {})).rejects.toMatchObject(sent);
    expect(reachedSecond).toEqual([]);
  });

  it('moves every kind of call on to the next endpoint when the first cannot be reached at all', async () => {
    const c = client([51049, SECOND]);
    const answered = { code: 'unimplemented', detail: 'second endpoint' };
    await expect(c.reboot({})).rejects.toMatchObject(answered);
    await expect(collect(c.logs({ id: 'etcd' }))).rejects.toMatchObject(answered);
    await expect(collect(c.etcdSnapshot({}))).rejects.toMatchObject(answered);
    await expect(c.etcdRecover(Readable.from([Buffer.alloc(1024)]), {})).rejects.toMatchObject(answered);
    expect(reachedSecond.map((p) => p.split('/').pop())).toEqual(['Reboot', 'Logs', 'EtcdSnapshot', 'EtcdRecover']);
  });
});
