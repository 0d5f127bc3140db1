import { randomBytes } from 'node:crypto';
import YAML from 'yaml';
import { ValidationError, type Problem } from '../errors';
import { certificateMatchesKey, decodePemField, generateCertificateAuthority, type CertificateAndKey } from './certs';
import { stringifyGoYaml } from './goyaml';
import { generateRsa4096PemAsync, generatePrivateKeyPem } from './keys';
import { decodeBase64Strict } from './pem';
import { generateToken, TOKEN_PATTERN, TOKEN_PROBLEM, type RandomSource } from './tokens';
import { DEFAULT_CONTRACT, contractGreater, parseVersionContract, type VersionContract } from './versions';

/** CA lifetime upstream uses for every cluster CA: 87600 h (10 years). */
export const CA_TTL_MS = 87_600 * 3_600_000;

/**
 * The cluster's secrets as `talosctl gen secrets` writes them. PEM fields hold decoded PEM text
 * (the file stores base64 of it); keys keep the labels Talos uses.
 */
export interface SecretsBundle {
  cluster: { id: string; secret: string };
  secrets: { bootstrapToken: string; secretboxEncryptionSecret?: string; aescbcEncryptionSecret?: string };
  trustdInfo: { token: string };
  certs: {
    etcd: CertificateAndKey;
    k8s: CertificateAndKey;
    k8sAggregator: CertificateAndKey;
    k8sServiceAccount: { key: string };
    os: CertificateAndKey;
  };
}

/** Options for {@link generateSecretsBundle}. */
export interface GenerateSecretsOptions {
  /** Talos version the bundle is for (`v1.10`); decides the service-account key type and the encryption secret field. */
  versionContract?: string | VersionContract;
  now?: Date;
  random?: RandomSource;
}

const V1_2: VersionContract = { major: 1, minor: 2 };
const V1_6: VersionContract = { major: 1, minor: 6 };
const V1_13: VersionContract = { major: 1, minor: 13 };

/** Go's base64.URLEncoding: URL alphabet, padded (Node's 'base64url' drops the padding). */
function base64UrlPadded(bytes: Buffer): string {
  return bytes.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * A new bundle with upstream's algorithms and subjects: OS CA Ed25519 (O=talos), etcd CA P-256 (O=etcd),
 * Kubernetes CA P-256 (O=kubernetes), aggregator CA P-256 (empty subject), all valid 10 years from `now`;
 * service-account key RSA-4096 for contracts after 1.6 (ECDSA P-256 before).
 */
export async function generateSecretsBundle(opts: GenerateSecretsOptions = {}): Promise<SecretsBundle> {
  const contract = typeof opts.versionContract === 'string' ? parseVersionContract(opts.versionContract) : (opts.versionContract ?? DEFAULT_CONTRACT);
  const random = opts.random ?? randomBytes;
  const now = opts.now ?? new Date();
  const ca = { ttlMs: CA_TTL_MS, now };

  // The RSA key takes most of the time; it runs on the thread pool while the CAs are signed.
  const serviceAccountKey = contractGreater(contract, V1_6) ? generateRsa4096PemAsync() : Promise.resolve(generatePrivateKeyPem('ecdsa-p256'));
  const [etcd, k8s, k8sAggregator, os, saKey] = await Promise.all([
    generateCertificateAuthority({ ...ca, algorithm: 'ecdsa-p256', organization: 'etcd' }),
    generateCertificateAuthority({ ...ca, algorithm: 'ecdsa-p256', organization: 'kubernetes' }),
    generateCertificateAuthority({ ...ca, algorithm: 'ecdsa-p256' }),
    generateCertificateAuthority({ ...ca, algorithm: 'ed25519', organization: 'talos' }),
    serviceAccountKey,
  ]);

  const encryptionSecret = random(32).toString('base64');
  return {
    // The 1.14 contract writes the cluster id in standard base64 (URL-safe before).
    cluster: { id: contractGreater(contract, V1_13) ? random(32).toString('base64') : base64UrlPadded(random(32)), secret: random(32).toString('base64') },
    secrets: {
      bootstrapToken: generateToken(random),
      ...(contractGreater(contract, V1_2) ? { secretboxEncryptionSecret: encryptionSecret } : { aescbcEncryptionSecret: encryptionSecret }),
    },
    trustdInfo: { token: generateToken(random) },
    certs: { etcd, k8s, k8sAggregator, k8sServiceAccount: { key: saKey }, os },
  };
}

const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');

/** The bundle as talosctl writes it: lower-case keys, base64 of PEM, Go yaml.v3 layout, so a loaded bundle writes back byte for byte. */
export function stringifySecretsBundle(bundle: SecretsBundle): string {
  const pair = (p: CertificateAndKey): Record<string, string> => ({ crt: b64(p.crt), key: b64(p.key) });
  return stringifyGoYaml({
    cluster: { id: bundle.cluster.id, secret: bundle.cluster.secret },
    secrets: {
      bootstraptoken: bundle.secrets.bootstrapToken,
      aescbcencryptionsecret: bundle.secrets.aescbcEncryptionSecret || undefined,
      secretboxencryptionsecret: bundle.secrets.secretboxEncryptionSecret || undefined,
    },
    trustdinfo: { token: bundle.trustdInfo.token },
    certs: {
      etcd: pair(bundle.certs.etcd),
      k8s: pair(bundle.certs.k8s),
      k8saggregator: pair(bundle.certs.k8sAggregator),
      k8sserviceaccount: { key: b64(bundle.certs.k8sServiceAccount.key) },
      os: pair(bundle.certs.os),
    },
  });
}

/** Reads fields out of untyped YAML, recording a problem (with its dotted path) for each one missing or malformed. */
class FieldReader {
  readonly problems: Problem[] = [];

  map(v: unknown, path: string): Record<string, unknown> | undefined {
    if (v === undefined || v === null) {
      this.problems.push({ path, message: 'is required' });
      return undefined;
    }
    if (typeof v !== 'object' || Array.isArray(v)) {
      this.problems.push({ path, message: 'must be a mapping' });
      return undefined;
    }
    return v as Record<string, unknown>;
  }

  string(v: unknown, path: string, required = true): string | undefined {
    if (v === undefined || v === null || v === '') {
      if (required) this.problems.push({ path, message: 'is required' });
      return undefined;
    }
    if (typeof v !== 'string') {
      this.problems.push({ path, message: `must be a string, found ${typeof v}` });
      return undefined;
    }
    return v;
  }

  /** A base64-of-PEM field, decoded; `what` says which PEM block is expected. */
  pem(v: unknown, path: string, what: 'certificate' | 'key'): string | undefined {
    const text = this.string(v, path);
    if (text === undefined) return undefined;
    const decoded = decodePemField(text, what);
    if ('pem' in decoded) return decoded.pem;
    this.problems.push({ path, message: decoded.problem });
    return undefined;
  }

  /** A `{crt, key}` pair whose key must belong to the certificate. */
  pair(v: unknown, path: string): CertificateAndKey | undefined {
    const m = this.map(v, path);
    if (!m) return undefined;
    const crt = this.pem(m.crt, `${path}.crt`, 'certificate');
    const key = this.pem(m.key, `${path}.key`, 'key');
    if (crt === undefined || key === undefined) return undefined;
    if (!certificateMatchesKey({ crt, key })) {
      this.problems.push({ path: `${path}.key`, message: 'does not match the certificate in ' + `${path}.crt` });
      return undefined;
    }
    return { crt, key };
  }

  token(v: unknown, path: string): string | undefined {
    const t = this.string(v, path);
    if (t !== undefined && !TOKEN_PATTERN.test(t)) {
      this.problems.push({ path, message: TOKEN_PROBLEM });
      return undefined;
    }
    return t;
  }
}

/** Parses YAML text into a plain value, turning syntax errors into a ValidationError that names the source and line. */
export function parseYamlDocument(text: string, subject: string): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ValidationError(subject, doc.errors.map((e) => ({ path: '', message: `YAML syntax: ${e.message.split('\n')[0]}` })));
  }
  return doc.toJS({ maxAliasCount: 100 }) as unknown;
}

/**
 * Loads a bundle written by `talosctl gen secrets` (or by us). Every problem is reported at once with its path:
 * a missing field, a truncated base64 value, a certificate whose key belongs to another certificate, a malformed token.
 */
export function parseSecretsBundle(text: string, source: string): SecretsBundle {
  const r = new FieldReader();
  const root = r.map(parseYamlDocument(text, source), '(document)');
  if (!root) throw new ValidationError(source, [{ path: '', message: 'the file is empty or not a YAML mapping (is it a secrets bundle?)' }]);

  const cluster = r.map(root.cluster, 'cluster');
  const secrets = r.map(root.secrets, 'secrets');
  const trustd = r.map(root.trustdinfo, 'trustdinfo');
  const certs = r.map(root.certs, 'certs');

  const id = cluster && r.string(cluster.id, 'cluster.id');
  const secret = cluster && r.string(cluster.secret, 'cluster.secret');
  const bootstrapToken = secrets && r.token(secrets.bootstraptoken, 'secrets.bootstraptoken');
  const secretbox = secrets && r.string(secrets.secretboxencryptionsecret, 'secrets.secretboxencryptionsecret', false);
  const aescbc = secrets && r.string(secrets.aescbcencryptionsecret, 'secrets.aescbcencryptionsecret', false);
  if (secrets && !secretbox && !aescbc) {
    r.problems.push({ path: 'secrets', message: 'one of secretboxencryptionsecret, aescbcencryptionsecret is required' });
  }
  if (secretbox && aescbc) {
    r.problems.push({ path: 'secrets', message: 'only one of secretboxencryptionsecret, aescbcencryptionsecret is allowed' });
  }
  for (const [path, value] of [['secrets.secretboxencryptionsecret', secretbox], ['secrets.aescbcencryptionsecret', aescbc]] as const) {
    if (value && decodeBase64Strict(value)?.length !== 32) r.problems.push({ path, message: 'must be base64 of 32 bytes' });
  }
  const trustdToken = trustd && r.token(trustd.token, 'trustdinfo.token');

  const etcd = certs && r.pair(certs.etcd, 'certs.etcd');
  const k8s = certs && r.pair(certs.k8s, 'certs.k8s');
  const k8sAggregator = certs && r.pair(certs.k8saggregator, 'certs.k8saggregator');
  const os = certs && r.pair(certs.os, 'certs.os');
  const saMap = certs && r.map(certs.k8sserviceaccount, 'certs.k8sserviceaccount');
  const saKey = saMap && r.pem(saMap.key, 'certs.k8sserviceaccount.key', 'key');

  if (r.problems.length > 0) throw new ValidationError(source, r.problems);
  return {
    cluster: { id: id!, secret: secret! },
    secrets: {
      bootstrapToken: bootstrapToken!,
      ...(secretbox ? { secretboxEncryptionSecret: secretbox } : {}),
      ...(aescbc ? { aescbcEncryptionSecret: aescbc } : {}),
    },
    trustdInfo: { token: trustdToken! },
    certs: { etcd: etcd!, k8s: k8s!, k8sAggregator: k8sAggregator!, k8sServiceAccount: { key: saKey! }, os: os! },
  };
}
