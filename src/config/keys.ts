import { createPrivateKey, createPublicKey, generateKeyPair, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { FleetError } from '../errors';
import { decodePemBlocks, encodePem, toNodePem } from './pem';

/** The private key kinds Talos PKI uses. */
export type KeyAlgorithm = 'ed25519' | 'ecdsa-p256' | 'rsa-4096';

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * A new private key as PEM with the labels Talos writes: Ed25519 as PKCS#8 under `ED25519 PRIVATE KEY`,
 * ECDSA as SEC 1 (`EC PRIVATE KEY`), RSA as PKCS#1 (`RSA PRIVATE KEY`).
 */
export function generatePrivateKeyPem(algorithm: KeyAlgorithm): string {
  switch (algorithm) {
    case 'ed25519': {
      const { privateKey } = generateKeyPairSync('ed25519');
      return encodePem('ED25519 PRIVATE KEY', privateKey.export({ type: 'pkcs8', format: 'der' }));
    }
    case 'ecdsa-p256': {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return encodePem('EC PRIVATE KEY', privateKey.export({ type: 'sec1', format: 'der' }));
    }
    case 'rsa-4096': {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 4096 });
      return encodePem('RSA PRIVATE KEY', privateKey.export({ type: 'pkcs1', format: 'der' }));
    }
  }
}

/** RSA-4096 in OpenSSL's thread pool, so it overlaps with the CA signing work instead of blocking it. */
export async function generateRsa4096PemAsync(): Promise<string> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 4096 });
  return encodePem('RSA PRIVATE KEY', privateKey.export({ type: 'pkcs1', format: 'der' }));
}

/** Loads a private key PEM in any label Talos or OpenSSL writes; throws `bad_key` with the reason. */
export function loadPrivateKey(pem: string): KeyObject {
  const [first] = decodePemBlocks(pem);
  if (first === undefined) throw new FleetError('bad_key', 'not a PEM-encoded private key');
  if (!/PRIVATE KEY$/.test(first.label)) {
    throw new FleetError('bad_key', `expected a private key, found a PEM block labelled "${first.label}"`);
  }
  try {
    return createPrivateKey(toNodePem(pem));
  } catch (err) {
    throw new FleetError('bad_key', `private key cannot be parsed: ${(err as Error).message}`, { cause: err });
  }
}

/** The Talos key algorithm of a loaded key, or undefined for kinds Talos does not use (P-384, RSA-2048, ...). */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') return 'ecdsa-p256';
  if (key.asymmetricKeyType === 'rsa' && details.modulusLength === 4096) return 'rsa-4096';
  return undefined;
}

/** DER SubjectPublicKeyInfo of a private key's public half, for comparing with a certificate. */
export function publicKeySpki(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}
