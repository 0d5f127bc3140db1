import { X509Certificate, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { FleetError } from '../errors';
import { generatePrivateKeyPem, keyAlgorithmOf, loadPrivateKey, publicKeySpki } from './keys';
import { decodeBase64Strict, decodePemBlocks, encodePem } from './pem';
import { x509 } from './x509';

/** A certificate and its private key as PEM text; the key uses the labels Talos writes (`ED25519 PRIVATE KEY`, `EC PRIVATE KEY`). */
export interface CertificateAndKey {
  crt: string;
  key: string;
}

/** What a leaf certificate may be used for, mapped onto ExtKeyUsage. */
export type CertificateUsage = 'server' | 'client' | 'server-and-client';

/** Options for {@link issueCertificate}. */
export interface IssueCertificateOptions {
  commonName?: string;
  /** Subject O values; for Talos client certificates these are the roles (`os:admin`, `os:etcd:backup`). */
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: CertificateUsage;
  ttlMs: number;
  now?: Date;
}

/** Options for {@link generateCertificateAuthority}. */
export interface CertificateAuthorityOptions {
  algorithm: 'ed25519' | 'ecdsa-p256';
  organization?: string;
  commonName?: string;
  ttlMs: number;
  now?: Date;
}

type SigningAlgorithm = { name: 'Ed25519' } | { name: 'ECDSA'; hash: 'SHA-256' };

/**
 * Signing parameters and the WebCrypto key for a CA key. Talos CAs are Ed25519 (Talos API) or ECDSA P-256
 * (etcd, Kubernetes), and upstream always signs ECDSA with SHA-256.
 */
async function signerFor(key: KeyObject): Promise<{ algorithm: SigningAlgorithm; leafKey: 'ed25519' | 'ecdsa-p256'; cryptoKey: webcrypto.CryptoKey }> {
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  switch (keyAlgorithmOf(key)) {
    case 'ed25519':
      return {
        algorithm: { name: 'Ed25519' },
        leafKey: 'ed25519',
        cryptoKey: await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']),
      };
    case 'ecdsa-p256':
      return {
        algorithm: { name: 'ECDSA', hash: 'SHA-256' },
        leafKey: 'ecdsa-p256',
        cryptoKey: await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']),
      };
    default:
      throw new FleetError(
        'unsupported_key',
        `CA key type ${key.asymmetricKeyType ?? 'unknown'} is not supported; Talos CAs use Ed25519 or ECDSA P-256`,
      );
  }
}

/** A random positive 128-bit serial, as siderolabs/crypto draws it; the library adds the DER sign byte. */
function newSerialNumber(): string {
  const bytes = randomBytes(16);
  if (bytes.every((b) => b === 0)) bytes[15] = 1;
  return bytes.toString('hex');
}

/** Subject in Go's pkix.Name order: all O values in one RDN, then CN. An empty list is an empty subject, as upstream's aggregator CA has. */
function subjectName(organizations: string[] | undefined, commonName: string | undefined): x509.Name {
  const rdns: Record<string, string[]>[] = [];
  const orgs = (organizations ?? []).filter((o) => o !== '');
  if (orgs.length > 0) rdns.push({ O: orgs });
  if (commonName) rdns.push({ CN: [commonName] });
  return rdns.length === 0 ? new x509.Name('') : new x509.Name(rdns);
}

/** The last instant X.509 can express (GeneralizedTime 99991231235959Z). */
const X509_LAST_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

function validity(now: Date | undefined, ttlMs: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new FleetError('invalid_ttl', `certificate lifetime must be positive, got ${ttlMs} ms`);
  }
  // X.509 times have one-second resolution; drop milliseconds so the certificate says exactly now..now+ttl.
  const start = Math.floor((now ?? new Date()).getTime() / 1000) * 1000;
  if (start + ttlMs > X509_LAST_TIME_MS) {
    throw new FleetError('invalid_ttl', `a certificate lifetime of ${ttlMs} ms would end after the year 9999, which X.509 cannot express`);
  }
  return { notBefore: new Date(start), notAfter: new Date(start + ttlMs) };
}

/** When a certificate (the first CERTIFICATE block of `pem`) expires. */
export function certificateExpiry(pem: string): Date {
  return new Date(parseCertificate(pem).validTo);
}

/** Parses the first CERTIFICATE block of a PEM text with Node's X.509 parser; throws `bad_certificate`. */
export function parseCertificate(pem: string): X509Certificate {
  const block = decodePemBlocks(pem).find((b) => b.label === 'CERTIFICATE');
  if (!block) throw new FleetError('bad_certificate', 'no complete PEM CERTIFICATE block found (truncated?)');
  try {
    return new X509Certificate(block.der);
  } catch (err) {
    throw new FleetError('bad_certificate', `certificate cannot be parsed: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * A base64-of-PEM field as Talos YAML stores them (certificates and keys), decoded and checked to hold what
 * `what` says; otherwise the problem, phrased to follow the field's path.
 */
export function decodePemField(base64: string, what: 'certificate' | 'key'): { pem: string } | { problem: string } {
  const der = decodeBase64Strict(base64);
  if (!der) return { problem: 'is not valid base64 (truncated or corrupted?)' };
  const pem = der.toString('utf8');
  try {
    if (what === 'certificate') parseCertificate(pem);
    else loadPrivateKey(pem);
  } catch (err) {
    return { problem: (err as Error).message };
  }
  return { pem };
}

/** True when the private key is the one whose public half the certificate carries; false for anything unparseable. */
export function certificateMatchesKey(pair: CertificateAndKey): boolean {
  try {
    const cert = parseCertificate(pair.crt);
    const certSpki = cert.publicKey.export({ type: 'spki', format: 'der' });
    return certSpki.equals(publicKeySpki(loadPrivateKey(pair.key)));
  } catch {
    return false;
  }
}

/**
 * A self-signed CA shaped like siderolabs/crypto's: KeyUsage CertSign+DigitalSignature (critical),
 * ExtKeyUsage ServerAuth+ClientAuth, CA:TRUE (critical), a subject key identifier, no SANs.
 */
export async function generateCertificateAuthority(opts: CertificateAuthorityOptions): Promise<CertificateAndKey> {
  const times = validity(opts.now, opts.ttlMs);
  const keyPem = generatePrivateKeyPem(opts.algorithm);
  const key = loadPrivateKey(keyPem);
  const signer = await signerFor(key);
  const spki = publicKeySpki(key);
  const name = subjectName(opts.organization ? [opts.organization] : [], opts.commonName);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: newSerialNumber(),
    subject: name,
    issuer: name,
    ...times,
    signingAlgorithm: signer.algorithm,
    publicKey: spki,
    signingKey: signer.cryptoKey,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
      new x509.BasicConstraintsExtension(true, undefined, true),
      await x509.SubjectKeyIdentifierExtension.create(spki),
    ],
  });
  return { crt: encodePem('CERTIFICATE', Buffer.from(cert.rawData)), key: keyPem };
}

/**
 * A leaf certificate signed by `ca`. The leaf key follows the CA, as upstream's NewKeyPair does:
 * Ed25519 CA gives an Ed25519 leaf, an ECDSA CA a P-256 leaf. KeyUsage is DigitalSignature (critical).
 */
export async function issueCertificate(ca: CertificateAndKey, opts: IssueCertificateOptions): Promise<CertificateAndKey> {
  const times = validity(opts.now, opts.ttlMs);
  const caCert = parseCertificate(ca.crt);
  if (!caCert.ca) throw new FleetError('not_a_ca', `certificate ${caCert.subject || '(empty subject)'} is not a CA (no CA:TRUE basic constraint)`);
  const caKey = loadPrivateKey(ca.key);
  if (!certificateMatchesKey(ca)) throw new FleetError('key_mismatch', 'the CA private key does not match the CA certificate');
  const signer = await signerFor(caKey);

  for (const ip of opts.ipAddresses ?? []) {
    if (isIP(ip) === 0) throw new FleetError('invalid_input', `"${ip}" is not an IP address`);
  }

  const leafKeyPem = generatePrivateKeyPem(signer.leafKey);
  const leafSpki = publicKeySpki(loadPrivateKey(leafKeyPem));
  const caX509 = new x509.X509Certificate(caCert.raw);
  const usages = {
    server: [x509.ExtendedKeyUsage.serverAuth],
    client: [x509.ExtendedKeyUsage.clientAuth],
    'server-and-client': [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
  }[opts.usage];

  const extensions: x509.Extension[] = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(usages, false),
  ];
  const caSki = caX509.getExtension(x509.SubjectKeyIdentifierExtension);
  if (caSki) extensions.push(new x509.AuthorityKeyIdentifierExtension(caSki.keyId, false));
  const sans = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: newSerialNumber(),
    subject: subjectName(opts.organizations, opts.commonName),
    issuer: caX509.subjectName,
    ...times,
    signingAlgorithm: signer.algorithm,
    publicKey: leafSpki,
    signingKey: signer.cryptoKey,
    extensions,
  });
  return { crt: encodePem('CERTIFICATE', Buffer.from(cert.rawData)), key: leafKeyPem };
}
