import type { TLSSocket } from 'node:tls';
import { TalosClient } from '../../src/talos/client';
import { spkiFingerprint } from '../../src/talos/credentials';
import { waitUntil } from '../support/fleet';
import { LocalNodes } from './local-nodes';

const nodes = new LocalNodes(1);
const clients: TalosClient[] = [];

function admin(port: number, timeoutMs = 5_000): TalosClient {
  const c = TalosClient.withIdentity(nodes.admin, { endpoints: [nodes.address(port)], timeoutMs });
  clients.push(c);
  return c;
}

beforeAll(() => nodes.init());

afterAll(async () => {
  for (const c of clients) c.close();
  await nodes.stopAll();
});

describe('telling a certificate rejection apart from a node going down', () => {
  it('reports a node that refuses our client certificate as tls_failed, not retryable, and says why', async () => {
    await nodes.h2(51001, () => undefined, nodes.otherCa.crt);
    const err = await admin(51001).version().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'tls_failed', retryable: false, mayHaveApplied: false });
    expect((err as Error).message).toMatch(/did not accept our client certificate/);
  });

  it('reports a connection dropped in the middle of a call as retryable, with the request possibly applied', async () => {
    await nodes.dropping(51002);
    const err = await admin(51002).reboot({}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unavailable', retryable: true, mayHaveApplied: true });
    expect((err as Error).message).toMatch(/the request may have reached the node/);
  });

  it('reports a node that goes away during the TLS handshake as retryable, with nothing sent', async () => {
    await nodes.stalling(51003, 50);
    await expect(admin(51003).version()).rejects.toMatchObject({ code: 'unavailable', retryable: true, mayHaveApplied: false });
  });

  it('does not let a refusal outlive the next successful handshake: once the node accepts us, calls get through', async () => {
    const refusing = await nodes.h2(51004, () => undefined, nodes.otherCa.crt);
    const client = admin(51004);
    await expect(client.version()).rejects.toMatchObject({ code: 'tls_failed' });
    await nodes.stop(refusing);
    // The node now trusts our CA. Until grpc-js's reconnect backoff (at most 250 ms) has passed, calls still see the
    // last attempt's verdict; the first call after a successful handshake must get the node's own answer.
    await nodes.answering(51004, 12, 'method not served here');
    await waitUntil('the node to answer once it accepts our certificate', async () => {
      const err = (await client.version().catch((e: unknown) => e)) as { code?: string };
      if (err.code === 'tls_failed' || err.code === 'unavailable') return false;
      expect(err).toMatchObject({ code: 'unimplemented', retryable: false });
      return true;
    }, 10_000);
  });
});

describe('our TLS connector (it overrides grpc-js internals: these fail if the override stops taking effect)', () => {
  let port: number;
  const serverNames: (string | false | null)[] = [];
  beforeAll(async () => {
    port = 51010;
    // A maintenance-mode node: any client may connect, and its certificate is not from a CA the client knows.
    const server = await nodes.h2(port, (stream) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'maintenance' }, { endStream: true }), null);
    server.on('secureConnection', (socket: TLSSocket) => serverNames.push(socket.servername));
  });

  function maintenance(kind: 'insecure' | 'pinned', fingerprints: string[] = []): TalosClient {
    const c = kind === 'insecure' ? TalosClient.maintenanceInsecure(nodes.address(port), { timeoutMs: 5_000 }) : TalosClient.maintenancePinned(nodes.address(port), fingerprints, { timeoutMs: 5_000 });
    clients.push(c);
    return c;
  }

  it('reaches a node pinned by the SPKI fingerprint of its certificate', async () => {
    await expect(maintenance('pinned', [spkiFingerprint(nodes.server.crt)]).version()).rejects.toMatchObject({ code: 'unimplemented', detail: 'maintenance' });
  });

  it('refuses a node whose certificate does not match the pinned fingerprint, naming both', async () => {
    const wrong = spkiFingerprint(nodes.ca.crt);
    const err = await maintenance('pinned', [wrong]).version().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'tls_failed', retryable: false });
    expect((err as Error).message).toContain(`fingerprint mismatch: the node presented ${spkiFingerprint(nodes.server.crt)}, expected ${wrong}`);
  });

  it('reaches a maintenance node without verifying it only when asked to by name', async () => {
    await expect(maintenance('insecure').version()).rejects.toMatchObject({ code: 'unimplemented' });
    expect(() => maintenance('pinned', [])).toThrow(/no fingerprints given.*maintenanceInsecure/);
  });

  it('never sends an IP address as the TLS server name', () => {
    expect(serverNames.length).toBeGreaterThan(0);
    expect(serverNames.every((n) => n === false)).toBe(true);
  });
});
