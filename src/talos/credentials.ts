import * as grpc from '@grpc/grpc-js';
import { createHash, X509Certificate } from 'node:crypto';
import { isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { toNodePem } from '../config/pem';
import type { ClientIdentity } from '../config/talosconfig';
import { TLS_VERIFICATION_FAILED } from './errors';
import { hostOf } from '../address';

/** base64(SHA-256(SubjectPublicKeyInfo DER)) of a certificate: the fingerprint Talos prints on the console. */
export function spkiFingerprint(cert: string | Buffer): string {
  const spki = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

type Verification = { kind: 'ca'; ca: string } | { kind: 'none' } | { kind: 'fingerprint'; fingerprints: string[] };

/** Socket-level failures: the node went away (rebooting, powered off), which says nothing about certificates. */
const SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

function isSocketError(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return (code !== undefined && SOCKET_ERRORS.has(code)) || /socket hang up|socket disconnected/i.test(err.message);
}

/** An error grpc-js reports as the connection's failure; the message is what our errors classify as `tls_failed`. */
function verificationFailure(reason: string): Error {
  return new Error(`${TLS_VERIFICATION_FAILED}: ${reason}`);
}

/**
 * TLS for the Talos API, built on Node's TLS directly so that we decide exactly what is verified:
 * - with a CA (mutual TLS, as talosctl): the node's certificate must chain to the OS CA and name the
 *   address we dialled in its SANs; we present our client certificate.
 * - maintenance mode: no client certificate; the node's certificate is either not verified (talosctl
 *   --insecure) or its public key must match an SPKI fingerprint (talosctl --cert-fingerprint).
 * It also avoids sending an IP address as SNI, which RFC 6066 forbids and Node warns about.
 *
 * This overrides grpc-js internals (`_createSecureConnector`), verified against the exact grpc-js version pinned
 * in package.json; test/talos/credentials.test.ts fails if the override stops taking effect.
 *
 * Each connection attempt carries its own verdict in the error grpc-js reports for it, so a verdict never outlives
 * the attempt: a TLS failure says "TLS verification failed" (not retryable), a node going down mid-handshake is a
 * plain socket error (retryable).
 */
export class TalosChannelCredentials extends grpc.ChannelCredentials {
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
    const host = hostOf(target.path);
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
      connect: (socket: Socket) =>
        new Promise((resolve, reject) => {
          let secure = false;
          const tls = tlsConnect({ ...options, socket }, () => {
            secure = true;
            if (verification.kind === 'fingerprint') {
              const raw = tls.getPeerCertificate()?.raw;
              const actual = raw ? spkiFingerprint(raw) : '';
              if (!verification.fingerprints.includes(actual)) {
                tls.destroy();
                reject(verificationFailure(`certificate fingerprint mismatch: the node presented ${actual || 'no certificate'}, expected ${verification.fingerprints.join(' or ')}`));
                return;
              }
            }
            watchForRefusal(tls);
            resolve({ socket: tls, secure: true });
          });
          tls.on('error', (err: Error) => {
            // Errors after the handshake are grpc-js's to report (it listens on the socket too).
            if (secure) return;
            reject(isSocketError(err) ? err : verificationFailure(err.message));
          });
        }),
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => callCredentials ?? grpc.credentials.createEmpty(),
      destroy: () => undefined,
    };
  }
}

/**
 * With TLS 1.3 the node checks our certificate after the handshake already looks complete to us. Talos answers a
 * rejection with a TLS alert (an error that names the certificate problem), but Node-based servers and some proxies
 * just close the connection. An accepting node sends its HTTP/2 SETTINGS at once, so a connection that ends before
 * the node sent a single byte was refused; one that ends later is a node going down (a reboot), which is retryable.
 * The verdict is handed to grpc-js as this connection's error, so it is reported for this attempt only.
 */
function watchForRefusal(tls: TLSSocket): void {
  let settled = false;
  const settle = (reason: string) => {
    settled = true;
    tls.emit('error', verificationFailure(reason));
  };
  const refusal = 'the node closed the connection right after the TLS handshake without a word: it did not accept our client certificate (not from its CA, expired, or missing)';
  // Registered before grpc-js's own listeners (it attaches them once this connector resolves), so grpc-js reports
  // our verdict instead of a bare "Failed to connect" or "read ECONNRESET". Once the node has sent data, the
  // connection was accepted and its errors are grpc-js's alone.
  tls.on('error', (err: Error) => {
    if (settled || tls.bytesRead > 0) settled = true;
    else settle(isSocketError(err) ? refusal : err.message);
  });
  tls.once('close', () => {
    if (!settled && tls.bytesRead === 0) settle(refusal);
  });
}

/** Mutual TLS as talosctl does it: verify the node against the talosconfig CA, present our certificate. */
export function mutualTlsCredentials(identity: ClientIdentity): grpc.ChannelCredentials {
  return new TalosChannelCredentials({ kind: 'ca', ca: identity.ca }, identity);
}

/** Credentials for a node in maintenance mode that verify nothing (talosctl --insecure). */
export function insecureMaintenanceCredentials(): grpc.ChannelCredentials {
  return new TalosChannelCredentials({ kind: 'none' });
}

/** Credentials for a node in maintenance mode, pinned to the SPKI fingerprints of its certificate. */
export function pinnedMaintenanceCredentials(fingerprints: string[]): grpc.ChannelCredentials {
  return new TalosChannelCredentials({ kind: 'fingerprint', fingerprints });
}
