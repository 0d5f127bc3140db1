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
export class TalosChannelCredentials extends grpc.ChannelCredentials {
  /**
   * The TLS failure of the latest connection attempt per host. With TLS 1.3 a node rejects our certificate
   * (unknown CA, expired) only after the handshake looks complete to us, and grpc-js then reports a bare
   * "Failed to connect"; this keeps the real reason so errors can say what is wrong.
   */
  private readonly handshakeFailures = new Map<string, string>();

  /** The TLS alert or error seen on the latest connection to `host`, if any. */
  handshakeFailure(host: string): string | undefined {
    return this.handshakeFailures.get(host);
  }

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
    const failures = this.handshakeFailures;
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
        failures.delete(host);
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
            // Node-based servers (and proxies) drop a connection whose client certificate they reject without a
            // TLS alert; a close this soon after the handshake is that rejection, not a reboot.
            const connectedAt = Date.now();
            tls.once('close', () => {
              if (Date.now() - connectedAt < 2_000 && !failures.has(host)) {
                failures.set(host, 'the node closed the connection right after the TLS handshake: it did not accept our client certificate (unknown CA, expired or missing)');
              }
            });
            resolve({ socket: tls, secure: true });
          });
          tls.on('error', (err: Error) => {
            failures.set(host, err.message);
            reject(err);
          });
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
