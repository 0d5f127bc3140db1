import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { certificateMatchesKey, generateCertificateAuthority, issueCertificate } from '../../src/config/certs';
import { toNodePem } from '../../src/config/pem';
import { certText, subjectOf, validityOf, verifies } from './openssl';

const HOUR = 3_600_000;
const now = new Date('2025-06-01T12:00:00Z');

describe('certificate authorities', () => {
  it('are self-signed CAs with upstream key usages, CA:TRUE critical and exactly the requested lifetime', async () => {
    const ca = await generateCertificateAuthority({ algorithm: 'ed25519', organization: 'talos', ttlMs: 87_600 * HOUR, now });
    const text = certText(ca.crt);
    expect(text).toMatch(/Public Key Algorithm: ED25519/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
    expect(text).not.toMatch(/Subject Alternative Name/);
    expect(subjectOf(ca.crt)).toBe('O=talos');
    expect(validityOf(ca.crt)).toEqual({ notBefore: now, notAfter: new Date('2035-05-30T12:00:00Z') });
    expect(verifies(ca.crt, ca.crt, now)).toBe(true);
  });

  it('signs ECDSA CAs with P-256 and SHA-256', async () => {
    const ca = await generateCertificateAuthority({ algorithm: 'ecdsa-p256', organization: 'etcd', ttlMs: HOUR, now });
    const text = certText(ca.crt);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(text).toMatch(/NIST CURVE: P-256/);
    expect(ca.key).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
  });
});

describe('issued certificates', () => {
  let osCa: { crt: string; key: string };
  beforeAll(async () => {
    osCa = await generateCertificateAuthority({ algorithm: 'ed25519', organization: 'talos', ttlMs: 87_600 * HOUR, now });
  });

  it('give an Ed25519 client certificate with the roles as Subject O, ClientAuth only, signed by the OS CA', async () => {
    const leaf = await issueCertificate(osCa, { organizations: ['os:admin'], usage: 'client', ttlMs: 8_760 * HOUR, now });
    const text = certText(leaf.crt);
    expect(subjectOf(leaf.crt)).toBe('O=os:admin');
    expect(text).toMatch(/Public Key Algorithm: ED25519/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Client Authentication\n/);
    expect(text).not.toMatch(/CA:TRUE/);
    expect(text).toMatch(/X509v3 Authority Key Identifier/);
    expect(validityOf(leaf.crt)).toEqual({ notBefore: now, notAfter: new Date('2026-06-01T12:00:00Z') });
    expect(leaf.key).toMatch(/^-----BEGIN ED25519 PRIVATE KEY-----/);
    expect(verifies(osCa.crt, leaf.crt, now)).toBe(true);
    expect(verifies(osCa.crt, leaf.crt, new Date('2026-06-02T00:00:00Z'))).toBe(false);
  });

  it('put several roles in one certificate and IP/DNS names in the SANs', async () => {
    const leaf = await issueCertificate(osCa, {
      organizations: ['os:reader', 'os:etcd:backup'],
      dnsNames: ['node-1'],
      ipAddresses: ['127.0.0.2', '::1'],
      usage: 'server-and-client',
      ttlMs: HOUR,
    });
    const text = certText(leaf.crt);
    expect(text).toMatch(/DNS:node-1, IP Address:127.0.0.2, IP Address:0:0:0:0:0:0:0:1/);
    expect(subjectOf(leaf.crt)).toMatch(/O=os:reader\+O=os:etcd:backup|O=os:etcd:backup\+O=os:reader/);
  });

  it('follow the CA: an ECDSA CA issues P-256 leaves', async () => {
    const etcdCa = await generateCertificateAuthority({ algorithm: 'ecdsa-p256', organization: 'etcd', ttlMs: HOUR, now });
    const leaf = await issueCertificate(etcdCa, { commonName: 'etcd-peer', usage: 'server', ttlMs: HOUR, now });
    expect(certText(leaf.crt)).toMatch(/NIST CURVE: P-256/);
    expect(leaf.key).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    expect(verifies(etcdCa.crt, leaf.crt, now)).toBe(true);
  });

  it('refuse a zero lifetime, a non-IP in ipAddresses, and a CA whose key belongs to another certificate', async () => {
    await expect(issueCertificate(osCa, { usage: 'client', ttlMs: 0 })).rejects.toThrow(/lifetime must be positive/);
    await expect(issueCertificate(osCa, { usage: 'server', ttlMs: HOUR, ipAddresses: ['node-1'] })).rejects.toThrow(/not an IP address/);
    const other = await generateCertificateAuthority({ algorithm: 'ed25519', ttlMs: HOUR });
    await expect(issueCertificate({ crt: osCa.crt, key: other.key }, { usage: 'client', ttlMs: HOUR })).rejects.toThrow(/does not match/);
    const leaf = await issueCertificate(osCa, { usage: 'client', ttlMs: HOUR });
    await expect(issueCertificate(leaf, { usage: 'client', ttlMs: HOUR })).rejects.toThrow(/not a CA/);
  });

  it('are recognised as matching their own key only', async () => {
    const a = await issueCertificate(osCa, { usage: 'client', ttlMs: HOUR });
    const b = await issueCertificate(osCa, { usage: 'client', ttlMs: HOUR });
    expect(certificateMatchesKey(a)).toBe(true);
    expect(certificateMatchesKey({ crt: a.crt, key: b.key })).toBe(false);
    expect(certificateMatchesKey({ crt: 'garbage', key: a.key })).toBe(false);
  });

  it('work for mutual TLS in Node: the server sees the client roles, the client checks the IP SAN', async () => {
    const server = await issueCertificate(osCa, { ipAddresses: ['127.0.0.1'], usage: 'server', ttlMs: HOUR });
    const client = await issueCertificate(osCa, { organizations: ['os:admin'], usage: 'client', ttlMs: HOUR });
    const srv = tls.createServer({ key: toNodePem(server.key), cert: server.crt, ca: osCa.crt, requestCert: true, rejectUnauthorized: true }, (s) => {
      const peer = s.getPeerCertificate();
      s.end(`hello ${String(peer.subject.O)}`);
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    try {
      const { port } = srv.address() as AddressInfo;
      const sock = tls.connect({ host: '127.0.0.1', port, ca: osCa.crt, cert: client.crt, key: toNodePem(client.key) });
      let data = '';
      sock.on('data', (d: Buffer) => (data += d.toString()));
      await once(sock, 'end');
      expect(sock.authorized).toBe(true);
      expect(data).toBe('hello os:admin');
    } finally {
      srv.close();
    }
  });
});
