import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCertificateAuthority, issueCertificate } from '../../src/config/certs';
import { toNodePem } from '../../src/config/pem';
import { TalosClient } from '../../src/talos/client';
import { newTalosconfig, stringifyTalosconfig } from '../../src/config/talosconfig';

const HOST = `127.${120 + Number(process.env.JEST_WORKER_ID ?? '1')}.0.1`;
let dir: string;
let admin: { ca: string; crt: string; key: string };
const servers: Server[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'talos-fleet-errors-'));
  const ca = await generateCertificateAuthority({ algorithm: 'ed25519', organization: 'talos', ttlMs: 3_600_000 });
  const client = await issueCertificate(ca, { organizations: ['os:admin'], usage: 'client', ttlMs: 3_600_000 });
  admin = { ca: ca.crt, ...client };
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

function talosconfigFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function listen(server: Server, port: number): Promise<void> {
  servers.push(server);
  server.on('connection', (socket: Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(port, HOST, resolve));
}

describe('a client built from a talosconfig', () => {
  it('names the file when it does not exist', () => {
    const path = join(dir, 'missing');
    expect(() => TalosClient.fromTalosconfig({ path })).toThrow(`talosconfig ${path} does not exist`);
  });

  it('names the file when it is not YAML of a talosconfig', () => {
    const path = talosconfigFile('garbage', 'context: [unclosed');
    expect(() => TalosClient.fromTalosconfig({ path })).toThrow(path);
  });

  it('lists the available contexts when the named one is missing', () => {
    const path = talosconfigFile('one-context', stringifyTalosconfig(newTalosconfig('prod', [HOST], admin.ca, admin)));
    expect(() => TalosClient.fromTalosconfig({ path, context: 'staging' })).toThrow(/has no context "staging"; available contexts: prod/);
  });

  it('names the context and field when the certificate does not belong to the key', async () => {
    const stranger = await issueCertificate(await generateCertificateAuthority({ algorithm: 'ed25519', ttlMs: 60_000 }), { usage: 'client', ttlMs: 60_000 });
    const mismatched = newTalosconfig('prod', [HOST], admin.ca, { crt: admin.crt, key: stranger.key });
    const path = talosconfigFile('mismatch', stringifyTalosconfig(mismatched));
    expect(() => TalosClient.fromTalosconfig({ path })).toThrow(/contexts\.prod\.key: does not match the certificate in contexts\.prod\.crt/);
  });

  it('says so when the context has no endpoints', () => {
    const path = talosconfigFile('no-endpoints', stringifyTalosconfig(newTalosconfig('prod', [], admin.ca, admin)));
    expect(() => TalosClient.fromTalosconfig({ path })).toThrow(/context "prod" has no endpoints/);
  });
});

describe('a client that cannot reach a working node', () => {
  it('fails fast and names the endpoint when nothing listens there', async () => {
    const client = TalosClient.withIdentity(admin, { endpoints: [`${HOST}:50001`], timeoutMs: 20_000 });
    const started = Date.now();
    try {
      await expect(client.version()).rejects.toMatchObject({ code: 'unavailable', retryable: true, endpoint: `${HOST}:50001` });
    } finally {
      client.close();
    }
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('gives up at the deadline when the endpoint accepts but never answers', async () => {
    await listen(createTcpServer(() => undefined), 50002);
    const client = TalosClient.withIdentity(admin, { endpoints: [`${HOST}:50002`], timeoutMs: 500 });
    try {
      await expect(client.version({ nodes: [HOST] })).rejects.toMatchObject({ code: 'deadline_exceeded', retryable: true });
    } finally {
      client.close();
    }
  });

  it('refuses a node whose certificate another CA issued, without retrying', async () => {
    const otherCa = await generateCertificateAuthority({ algorithm: 'ed25519', organization: 'talos', ttlMs: 3_600_000 });
    const cert = await issueCertificate(otherCa, { ipAddresses: [HOST], usage: 'server', ttlMs: 3_600_000 });
    await listen(createTlsServer({ key: toNodePem(cert.key), cert: cert.crt, ALPNProtocols: ['h2'] }), 50003);
    const client = TalosClient.withIdentity(admin, { endpoints: [`${HOST}:50003`], timeoutMs: 5_000 });
    try {
      const err = await client.version().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'tls_failed', retryable: false, mayHaveApplied: false });
      expect((err as Error).message).toMatch(/TLS failed: does the talosconfig CA match the cluster/);
    } finally {
      client.close();
    }
  });
});
