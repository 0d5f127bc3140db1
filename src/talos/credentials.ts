import * as grpc from '@grpc/grpc-js';
import { createHash, X509Certificate } from 'node:crypto';
import { isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { toNodePem } from '../config/pem';

import type { ClientIdentity } from './talosconfig';

/** base64(SHA-256(SubjectPublicKeyInfo DER)) of a certificate: the fingerprint Talos prints on the console. */
export function spkiFingerprint(cert: string | Buffer): string {
  const spki = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

type Verification = { kind: 'ca'; ca: string } | { kind: 'none' } | { kind: 'fingerprint'; fingerprints: string[] };

/**
 * TLS for the Talos API, built on Node's TLS directly so that we decide exactly what is verified:
 * - with a CA (mutual TLS, as talosctl): the node's certificate must chain to the OS CA and name the
 *   address we dialled in its SANs; we present our client certificate.
 * - maintenance mode: no client certificate; the node's certificate is either not verified (talosctl
 *   --insecure) or its public key must match an SPKI fingerprint (talosctl --cert-fingerprint).
 * It also avoids sending an IP address as SNI, which RFC 6066 forbids and Node warns about.
 */
class TalosChannelCredentials extends grpc.ChannelCredentials {
  constructor(
    private readonly verification: Verification,
    private readonly clientCert?: { crt: string; key: string },
  ) {
    super();
  }

  _isSecure(): boolean {
    return true;
  }

  _equals(other: grpc.ChannelCredentials): boolean {
    return other === this;
  }

  _createSecureConnector(
    target: { path: string },
    _options: grpc.ChannelOptions,
    callCredentials?: grpc.CallCredentials,
  ): ReturnType<grpc.ChannelCredentials['_createSecureConnector']> {
    const host = target.path.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    const verification = this.verification;
    const options: ConnectionOptions = {
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.2',
      servername: isIP(host) ? undefined : host,
      ...(this.clientCert ? { cert: this.clientCert.crt, key: toNodePem(this.clientCert.key) } : {}),
      ...(verification.kind === 'ca'
        ? { ca: verification.ca, rejectUnauthorized: true, checkServerIdentity: (_h: string, cert) => checkServerIdentity(host, cert) }
        : { rejectUnauthorized: false }),
    };
    return {
      connect(socket: Socket) {
        return new Promise((resolve, reject) => {
          const tls = tlsConnect({ ...options, socket }, () => {
            if (verification.kind === 'fingerprint') {
              const raw = tls.getPeerCertificate()?.raw;
              const actual = raw ? spkiFingerprint(raw) : '';
              if (!verification.fingerprints.includes(actual)) {
                tls.destroy();
                reject(new Error(`certificate fingerprint mismatch: the node presented ${actual || 'no certificate'}, expected ${verification.fingerprints.join(' or ')}`));
                return;
              }
            }
            resolve({ socket: tls, secure: true });
          });
          tls.on('error', reject);
        });
      },
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => callCredentials ?? grpc.credentials.createEmpty(),
      destroy: () => undefined,
    };
  }
}

/** Mutual TLS as talosctl does it: verify the node against the talosconfig CA, present our certificate. */
export function mutualTlsCredentials(identity: ClientIdentity): grpc.ChannelCredentials {
  return new TalosChannelCredentials({ kind: 'ca', ca: identity.ca }, identity);
}

/** Credentials for a node in maintenance mode: unverified, or pinned to SPKI fingerprints. */
export function maintenanceCredentials(fingerprints: string[] = []): grpc.ChannelCredentials {
  return new TalosChannelCredentials(fingerprints.length ? { kind: 'fingerprint', fingerprints } : { kind: 'none' });
}
