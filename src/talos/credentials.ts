import * as grpc from '@grpc/grpc-js';
import { createHash, X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { toNodePem } from '../config/pem';

/** PEM material of a Talos API client: the OS CA that signs node certificates, and our certificate and key. */
export interface ClientIdentity {
  ca: string;
  crt: string;
  key: string;
}

/** Mutual TLS as talosctl does it: verify the node against the talosconfig CA, present our certificate. */
export function mutualTlsCredentials(identity: ClientIdentity): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(
    Buffer.from(identity.ca),
    Buffer.from(toNodePem(identity.key)),
    Buffer.from(identity.crt),
  );
}

/** base64(SHA-256(SubjectPublicKeyInfo DER)) of a certificate: the fingerprint Talos prints on the console. */
export function spkiFingerprint(cert: string | Buffer): string {
  const spki = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/**
 * TLS for a node in maintenance mode: it presents a certificate from a CA it made itself and asks for no
 * client certificate. Without a fingerprint the certificate is not verified (talosctl --insecure); with
 * one, the leaf's public key must match it (talosctl --cert-fingerprint), checked on every connection.
 */
class MaintenanceCredentials extends grpc.ChannelCredentials {
  constructor(private readonly fingerprints: string[]) {
    super();
  }

  _isSecure(): boolean {
    return true;
  }

  _equals(other: grpc.ChannelCredentials): boolean {
    return other instanceof MaintenanceCredentials && other.fingerprints.join() === this.fingerprints.join();
  }

  _createSecureConnector(
    _target: unknown,
    _options: grpc.ChannelOptions,
    callCredentials?: grpc.CallCredentials,
  ): ReturnType<grpc.ChannelCredentials['_createSecureConnector']> {
    const fingerprints = this.fingerprints;
    return {
      connect(socket: Socket) {
        return new Promise((resolve, reject) => {
          const tls = tlsConnect({ socket, ALPNProtocols: ['h2'], rejectUnauthorized: false }, () => {
            if (fingerprints.length > 0) {
              const peer: PeerCertificate = tls.getPeerCertificate();
              const actual = peer?.raw ? spkiFingerprint(peer.raw) : '';
              if (!fingerprints.includes(actual)) {
                tls.destroy();
                reject(new Error(`certificate fingerprint mismatch: node presented ${actual || 'no certificate'}, expected ${fingerprints.join(' or ')}`));
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

/** Credentials for maintenance mode, optionally pinned to SPKI fingerprints. */
export function maintenanceCredentials(fingerprints: string[] = []): grpc.ChannelCredentials {
  return new MaintenanceCredentials(fingerprints);
}
