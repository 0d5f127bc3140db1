import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's OpenSSL, an independent parser for everything we generate. */
export const OPENSSL = '/usr/bin/openssl';

/** Runs openssl with `input` on stdin and returns stdout. */
export function openssl(args: string[], input?: string): string {
  return execFileSync(OPENSSL, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** `openssl x509 -text` of a PEM certificate. */
export function certText(pem: string): string {
  return openssl(['x509', '-noout', '-text'], pem);
}

/** Subject as OpenSSL prints it with RFC 2253 order (`O=os:admin`), or '' for an empty subject. */
export function subjectOf(pem: string): string {
  return openssl(['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], pem).replace(/^subject=\s*/, '').trim();
}

/** notBefore and notAfter as Dates, read by OpenSSL. */
export function validityOf(pem: string): { notBefore: Date; notAfter: Date } {
  const out = openssl(['x509', '-noout', '-startdate', '-enddate'], pem);
  const get = (k: string): Date => {
    const m = new RegExp(`${k}=(.*)`).exec(out);
    if (!m) throw new Error(`openssl printed no ${k}:\n${out}`);
    return new Date(m[1]!.trim());
  };
  return { notBefore: get('notBefore'), notAfter: get('notAfter') };
}

/** `openssl pkey -text` of a private key PEM (already in a label OpenSSL reads). */
export function keyText(pem: string): string {
  return openssl(['pkey', '-noout', '-text'], pem);
}

/** True when `openssl verify` accepts `leaf` as issued by `ca`, checked at time `at` (default: now). */
export function verifies(caPem: string, leafPem: string, at?: Date): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'verify-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), caPem);
    writeFileSync(join(dir, 'leaf.pem'), leafPem);
    const when = at ? ['-attime', String(Math.floor(at.getTime() / 1000))] : [];
    openssl(['verify', ...when, '-CAfile', join(dir, 'ca.pem'), join(dir, 'leaf.pem')]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
