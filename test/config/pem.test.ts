import { generateKeyPairSync } from 'node:crypto';
import { decodeBase64Strict, decodePemBlocks, toNodePem, toTalosPem } from '../../src/config/pem';
import { generatePrivateKeyPem, loadPrivateKey } from '../../src/config/keys';
import { keyText } from './openssl';

describe('PEM labels', () => {
  it('writes Ed25519 keys under the ED25519 PRIVATE KEY label that Talos uses, with a PKCS#8 body', () => {
    const pem = generatePrivateKeyPem('ed25519');
    expect(pem).toMatch(/^-----BEGIN ED25519 PRIVATE KEY-----\n/);
    expect(keyText(toNodePem(pem))).toMatch(/ED25519 Private-Key/);
  });

  it('relabels a Talos Ed25519 key so Node and OpenSSL can load it, and back again byte for byte', () => {
    const talos = generatePrivateKeyPem('ed25519');
    const node = toNodePem(talos);
    expect(node).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(toTalosPem(node)).toBe(talos);
  });

  it('leaves ECDSA, RSA and non-Ed25519 PKCS#8 keys untouched', () => {
    const ec = generatePrivateKeyPem('ecdsa-p256');
    expect(toTalosPem(ec)).toBe(ec);
    const pkcs8Ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(toTalosPem(pkcs8Ec)).toBe(pkcs8Ec);
    expect(toNodePem(ec)).toBe(ec);
  });

  it('loads keys in every label Talos writes', () => {
    expect(loadPrivateKey(generatePrivateKeyPem('ed25519')).asymmetricKeyType).toBe('ed25519');
    expect(loadPrivateKey(generatePrivateKeyPem('ecdsa-p256')).asymmetricKeyType).toBe('ec');
  });

  it('refuses truncated base64 instead of decoding it to garbage', () => {
    const text = Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n').toString('base64');
    expect(decodeBase64Strict(text)).toBeDefined();
    expect(decodeBase64Strict(text.slice(0, -3))).toBeUndefined();
    expect(decodeBase64Strict('not base64!')).toBeUndefined();
  });

  it('finds nothing in text without a PEM block', () => {
    expect(decodePemBlocks('hello')).toEqual([]);
  });
});
