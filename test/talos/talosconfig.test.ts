import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../../src/errors';
import { generateCertificateAuthority, issueCertificate, type CertificateAndKey } from '../../src/config/certs';
import { contextIdentity, newTalosconfig, parseTalosconfig, stringifyTalosconfig } from '../../src/config/talosconfig';
import { loadTalosconfig, resolveTalosconfigPath, writeTalosconfig } from '../../src/talos/talosconfig';
import { keyText, subjectOf } from '../config/openssl';

const HOUR = 3_600_000;
const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('talosconfig files', () => {
  let ca: CertificateAndKey;
  let admin: CertificateAndKey;
  let other: CertificateAndKey;
  let dir: string;
  beforeAll(async () => {
    ca = await generateCertificateAuthority({ algorithm: 'ed25519', organization: 'talos', ttlMs: HOUR });
    admin = await issueCertificate(ca, { organizations: ['os:admin'], usage: 'client', ttlMs: HOUR });
    other = await issueCertificate(ca, { organizations: ['os:reader'], usage: 'client', ttlMs: HOUR });
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'talosconfig-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('are written in talosctl\'s layout and read back to the same text', () => {
    const text = stringifyTalosconfig(newTalosconfig('prod', ['10.0.0.2', '10.0.0.3'], ca.crt, admin));
    expect(text).toBe(
      `context: prod\ncontexts:\n    prod:\n        endpoints:\n            - 10.0.0.2\n            - 10.0.0.3\n        ca: ${b64(ca.crt)}\n        crt: ${b64(admin.crt)}\n        key: ${b64(admin.key)}\n`,
    );
    expect(stringifyTalosconfig(parseTalosconfig(text, 'talosconfig'))).toBe(text);
  });

  it('append the deprecated target to endpoints and keep auth, nodes and cluster', () => {
    const cfg = parseTalosconfig(
      'context: a\ncontexts:\n    a:\n        target: 10.0.0.9\n        endpoints: [10.0.0.2]\n        nodes: [10.0.0.5]\n        auth:\n            siderov1:\n                identity: me@example.com\n        cluster: prod\n',
      'old',
    );
    expect(cfg.contexts.a).toEqual({ endpoints: ['10.0.0.2', '10.0.0.9'], nodes: ['10.0.0.5'], auth: { siderov1: { identity: 'me@example.com' } }, cluster: 'prod' });
    expect(stringifyTalosconfig(cfg)).toMatch(/ {8}auth:\n {12}siderov1:\n {16}identity: me@example.com\n {8}cluster: prod\n$/);
  });

  it('yield a TLS-ready identity: decoded PEM with the Ed25519 key relabelled for Node', () => {
    const { identity } = contextIdentity(newTalosconfig('prod', [], ca.crt, admin));
    expect(identity!.ca).toBe(ca.crt);
    expect(identity!.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(keyText(identity!.key)).toMatch(/ED25519 Private-Key/);
    expect(subjectOf(identity!.crt)).toBe('O=os:admin');
  });

  it('name the missing context and list the ones that exist', () => {
    const cfg = newTalosconfig('prod', [], ca.crt, admin);
    cfg.contexts.staging = { endpoints: [] };
    expect(() => contextIdentity(cfg, 'dev', '/home/u/.talos/config')).toThrow('/home/u/.talos/config has no context "dev"; available contexts: prod, staging');
  });

  it('name the file, context and field when a certificate does not match its key or is not base64', () => {
    const cfg = newTalosconfig('prod', [], ca.crt, admin);
    const prod = cfg.contexts.prod;
    if (!prod) throw new Error('newTalosconfig made no "prod" context');
    prod.key = b64(other.key);
    prod.ca = 'not base64!';
    try {
      contextIdentity(cfg, undefined, 'talosconfig ./tc');
      throw new Error('expected a ValidationError');
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as Error).message).toMatch(/^talosconfig \.\/tc context "prod" is invalid:/);
      expect((err as ValidationError).problems).toEqual([
        { path: 'contexts.prod.ca', message: 'is not valid base64 (truncated or corrupted?)' },
        { path: 'contexts.prod.key', message: 'does not match the certificate in contexts.prod.crt' },
      ]);
    }
  });

  it('are looked up in $TALOSCONFIG, then ~/.talos/config, then the service-account mount', () => {
    const home = join(dir, 'home');
    const explicit = join(dir, 'explicit');
    expect(resolveTalosconfigPath({ HOME: home })).toBe(join(home, '.talos', 'config'));
    expect(resolveTalosconfigPath({ HOME: home, TALOSCONFIG: explicit })).toBe(explicit);
    mkdirSync(join(home, '.talos'), { recursive: true });
    writeFileSync(join(home, '.talos', 'config'), 'context: ""\ncontexts: {}\n');
    // As in talosctl, the first path that exists wins, so a missing $TALOSCONFIG falls through.
    expect(resolveTalosconfigPath({ HOME: home, TALOSCONFIG: explicit })).toBe(join(home, '.talos', 'config'));
    writeFileSync(explicit, 'context: ""\ncontexts: {}\n');
    expect(resolveTalosconfigPath({ HOME: home, TALOSCONFIG: explicit })).toBe(explicit);
  });

  it('that are missing or malformed give an error naming the path', () => {
    expect(() => loadTalosconfig(join(dir, 'nope'))).toThrow(`talosconfig ${join(dir, 'nope')} does not exist`);
    writeFileSync(join(dir, 'bad'), 'context: [\n');
    expect(() => loadTalosconfig(join(dir, 'bad'))).toThrow(new RegExp(`talosconfig ${join(dir, 'bad')} is invalid:\\n {2}- YAML syntax`));
    writeFileSync(join(dir, 'wrong'), 'contexts:\n    a:\n        endpoints: 10.0.0.1\n');
    expect(() => loadTalosconfig(join(dir, 'wrong'))).toThrow(/contexts\.a\.endpoints: must be a list of strings/);
  });

  it('are written atomically with mode 0600 and never overwritten without force', () => {
    const path = join(dir, 'talosconfig');
    writeTalosconfig(path, newTalosconfig('prod', [], ca.crt, admin));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadTalosconfig(path).context).toBe('prod');
    expect(() => writeTalosconfig(path, newTalosconfig('other', [], ca.crt, admin))).toThrow(/refusing to overwrite/);
    expect(loadTalosconfig(path).context).toBe('prod');
    writeTalosconfig(path, newTalosconfig('other', [], ca.crt, admin), { force: true });
    expect(loadTalosconfig(path).context).toBe('other');
    expect(readdirSync(dir)).toEqual(['talosconfig']);
    expect(readFileSync(path, 'utf8')).toMatch(/^context: other\n/);
  });
});
