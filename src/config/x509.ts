// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// Node's WebCrypto signs with Ed25519 and ECDSA P-256, the two algorithms Talos PKI uses.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** The configured @peculiar/x509 module; import it from here so the crypto provider is always set. */
export { x509 };
