import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../../src/errors';
import { generateSecretsBundle, parseSecretsBundle, stringifySecretsBundle, type SecretsBundle } from '../../src/config/secrets';
import { toNodePem } from '../../src/config/pem';
import { certText, keyText, openssl, subjectOf, validityOf } from './openssl';

const now = new Date('2025-06-01T12:00:00Z');
const tenYearsLater = new Date(now.getTime() + 87_600 * 3_600_000);

describe('a generated secrets bundle', () => {
  let bundle: SecretsBundle;
  beforeAll(async () => {
    bundle = await generateSecretsBundle({ versionContract: 'v1.10', now });
  });

  it.each([
    ['etcd', 'O=etcd', 'id-ecPublicKey', 'EC PRIVATE KEY'],
    ['k8s', 'O=kubernetes', 'id-ecPublicKey', 'EC PRIVATE KEY'],
    ['k8sAggregator', '', 'id-ecPublicKey', 'EC PRIVATE KEY'],
    ['os', 'O=talos', 'ED25519', 'ED25519 PRIVATE KEY'],
  ] as const)('has a %s CA with subject "%s", key %s, CA:TRUE and a 10-year lifetime, as OpenSSL reads it', (name, subject, algorithm, label) => {
    const ca = bundle.certs[name];
    const text = certText(ca.crt);
    expect(subjectOf(ca.crt)).toBe(subject);
    expect(text).toMatch(new RegExp(`Public Key Algorithm: ${algorithm}`));
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
    expect(validityOf(ca.crt)).toEqual({ notBefore: now, notAfter: tenYearsLater });
    expect(ca.key.startsWith(`-----BEGIN ${label}-----`)).toBe(true);
    expect(keyText(toNodePem(ca.key))).toMatch(algorithm === 'ED25519' ? /ED25519 Private-Key/ : /Private-Key: \(256 bit\)[\s\S]*NIST CURVE: P-256/);
    if (algorithm === 'id-ecPublicKey') {
      expect(text).toMatch(/NIST CURVE: P-256/);
      expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    }
  });

  it('has an RSA-4096 service-account key in PKCS#1 form', () => {
    const key = bundle.certs.k8sServiceAccount.key;
    expect(key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(openssl(['rsa', '-noout', '-text'], key)).toMatch(/Private-Key: \(4096 bit, 2 primes\)/);
  });

  it('has tokens in the [0-9a-z]{6}.[0-9a-z]{16} form, a URL-base64 cluster id and 32-byte secrets', () => {
    expect(bundle.secrets.bootstrapToken).toMatch(/^[0-9a-z]{6}\.[0-9a-z]{16}$/);
    expect(bundle.trustdInfo.token).toMatch(/^[0-9a-z]{6}\.[0-9a-z]{16}$/);
    expect(bundle.cluster.id).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    expect(Buffer.from(bundle.cluster.secret, 'base64')).toHaveLength(32);
    expect(Buffer.from(bundle.secrets.secretboxEncryptionSecret!, 'base64')).toHaveLength(32);
    expect(bundle.secrets.aescbcEncryptionSecret).toBeUndefined();
  });

  it('is written in talosctl\'s layout and reads back to exactly the same text', () => {
    const text = stringifySecretsBundle(bundle);
    expect(text.split('\n').slice(0, 9).map((l) => l.replace(/:.*/, ':'))).toEqual([
      'cluster:', '    id:', '    secret:', 'secrets:', '    bootstraptoken:', '    secretboxencryptionsecret:', 'trustdinfo:', '    token:', 'certs:',
    ]);
    expect(stringifySecretsBundle(parseSecretsBundle(text, 'secrets.yaml'))).toBe(text);
  });
});

it('uses an ECDSA service-account key and AES-CBC secret for old contracts, as upstream does', async () => {
  const old = await generateSecretsBundle({ versionContract: 'v1.2' });
  expect(old.certs.k8sServiceAccount.key).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
  expect(old.secrets.aescbcEncryptionSecret).toBeDefined();
  expect(old.secrets.secretboxEncryptionSecret).toBeUndefined();
  expect(stringifySecretsBundle(old)).toMatch(/\n {4}aescbcencryptionsecret: /);
});

describe('a bundle made by another tool (OpenSSL, in the talosctl file layout)', () => {
  let dir: string;
  let text: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bundle-'));
    const ca = (name: string, subj: string, keyArgs: string[]): { crt: string; key: string } => {
      const keyPath = join(dir, `${name}.key`);
      openssl([...keyArgs, '-out', keyPath]);
      const crt = openssl(['req', '-x509', '-new', '-key', keyPath, '-subj', subj, '-days', '3650',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature,keyCertSign']);
      return { crt, key: readFileSync(keyPath, 'utf8') };
    };
    const ec = ['ecparam', '-name', 'prime256v1', '-genkey', '-noout'];
    const etcd = ca('etcd', '/O=etcd', ec);
    const k8s = ca('k8s', '/O=kubernetes', ec);
    const agg = ca('agg', '/CN=front-proxy', ec);
    const os = ca('os', '/O=talos', ['genpkey', '-algorithm', 'ed25519']);
    // talosctl writes the Ed25519 key under its own label; OpenSSL wrote the standard one.
    os.key = os.key.replace(/(BEGIN|END) PRIVATE KEY/g, '$1 ED25519 PRIVATE KEY');
    const sa = openssl(['genrsa', '-traditional', '2048']);
    const b = (s: string): string => Buffer.from(s).toString('base64');
    text = [
      'cluster:',
      '    id: cgvhCbucls-WqkESDTRqykFgb4hROI4cBpgB0YJLLtM=',
      '    secret: Wiu0qx68V3MKhFDr8+OFwGCNOOPBiQCDsLpRa3MdxEQ=',
      'secrets:',
      '    bootstraptoken: 2psnp2.lry8e9gycdix3bpa',
      '    secretboxencryptionsecret: 6zWBpno849HlD5jeuTmGToFYP+z8lgkJa0fhHobv7mE=',
      'trustdinfo:',
      '    token: oamejv.9tk1nhuwnlc2nghf',
      'certs:',
      ...(
        [['etcd', etcd], ['k8s', k8s], ['k8saggregator', agg]] as const
      ).flatMap(([n, p]) => [`    ${n}:`, `        crt: ${b(p.crt)}`, `        key: ${b(p.key)}`]),
      '    k8sserviceaccount:',
      `        key: ${b(sa)}`,
      '    os:',
      `        crt: ${b(os.crt)}`,
      `        key: ${b(os.key)}`,
      '',
    ].join('\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads unchanged and writes back byte for byte', () => {
    const bundle = parseSecretsBundle(text, 'talosctl-secrets.yaml');
    expect(bundle.secrets.bootstrapToken).toBe('2psnp2.lry8e9gycdix3bpa');
    expect(keyText(toNodePem(bundle.certs.os.key))).toMatch(/ED25519 Private-Key/);
    expect(stringifySecretsBundle(bundle)).toBe(text);
  });

  it('is refused with every bad field named when a CA is paired with the wrong key and a token is malformed', () => {
    const lines = text.split('\n');
    const etcdKey = lines.findIndex((l) => l.startsWith('        key:'));
    const k8sKey = lines.findIndex((l, i) => i > etcdKey && l.startsWith('        key:'));
    const etcdLine = lines[etcdKey];
    const k8sLine = lines[k8sKey];
    if (etcdLine === undefined || k8sLine === undefined) throw new Error('fixture lacks the etcd and k8s key lines');
    [lines[etcdKey], lines[k8sKey]] = [k8sLine, etcdLine];
    const broken = lines.join('\n').replace('oamejv.9tk1nhuwnlc2nghf', 'not-a-token');
    try {
      parseSecretsBundle(broken, 'broken.yaml');
      throw new Error('expected a ValidationError');
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      const paths = (err as ValidationError).problems.map((p) => p.path);
      expect(paths).toEqual(expect.arrayContaining(['trustdinfo.token', 'certs.etcd.key', 'certs.k8s.key']));
      expect((err as ValidationError).message).toMatch(/broken\.yaml is invalid/);
      expect((err as ValidationError).message).toMatch(/certs\.etcd\.key: does not match the certificate in certs\.etcd\.crt/);
    }
  });

  it('names malformed tokens and secrets without showing their values', () => {
    const bootstrap = '2PSNP2.LRY8E9GYCDIX3BPA';
    const trustd = 'oamejv-9tk1nhuwnlc2nghf';
    const broken = text.replace('2psnp2.lry8e9gycdix3bpa', bootstrap).replace('oamejv.9tk1nhuwnlc2nghf', trustd);
    try {
      parseSecretsBundle(broken, 'leaky.yaml');
      throw new Error('expected a ValidationError');
    } catch (err) {
      expect((err as ValidationError).problems.map((p) => p.path)).toEqual(['secrets.bootstraptoken', 'trustdinfo.token']);
      expect((err as ValidationError).message).not.toContain(bootstrap);
      expect((err as ValidationError).message).not.toContain(trustd);
    }
  });

  it('is refused when truncated, naming the cut field and the missing sections', () => {
    const cut = text.slice(0, text.indexOf('    k8saggregator:') + 200);
    const problems = (() => {
      try {
        parseSecretsBundle(cut, 'cut.yaml');
        return [];
      } catch (err) {
        return (err as ValidationError).problems.map((p) => `${p.path}: ${p.message}`);
      }
    })();
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^certs\.k8saggregator\.crt: (is not valid base64|no complete PEM CERTIFICATE block found \(truncated\?\))/), 'certs.os: is required']));
  });
});

it('refuses a file that is not YAML or not a bundle', () => {
  expect(() => parseSecretsBundle('key: [unclosed', 'x.yaml')).toThrow(/x\.yaml is invalid:\n {2}- YAML syntax/);
  expect(() => parseSecretsBundle('', 'empty.yaml')).toThrow(/empty\.yaml is invalid/);
  const dir = mkdtempSync(join(tmpdir(), 'bundle-'));
  writeFileSync(join(dir, 'a'), 'hello: world\n');
  expect(() => parseSecretsBundle(readFileSync(join(dir, 'a'), 'utf8'), 'a')).toThrow(/cluster: is required/);
  rmSync(dir, { recursive: true, force: true });
});

describe('the cluster id of the 1.14 contract', () => {
  it('is standard base64 from v1.14 on, URL-safe base64 before', async () => {
    // 0xfb bytes encode to characters that differ between the two alphabets ('+' and '/' against '-' and '_').
    const random = (n: number) => Buffer.alloc(n, 0xfb);
    const standard = Buffer.alloc(32, 0xfb).toString('base64');
    const [on13, on14] = await Promise.all(['v1.13', 'v1.14'].map((v) => generateSecretsBundle({ versionContract: v, random })));
    expect(on14!.cluster.id).toBe(standard);
    expect(on13!.cluster.id).toBe(standard.replace(/\+/g, '-').replace(/\//g, '_'));
    expect(on13!.cluster.id).not.toBe(standard);
  });
});
