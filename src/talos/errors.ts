import { status as GrpcStatus } from '@grpc/grpc-js';
import { FleetError } from '../errors';

/** gRPC status codes by number, as snake_case codes for our errors (`unavailable`, `permission_denied`, ...). */
const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(GrpcStatus)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k.toLowerCase()]),
);

/** Go-style names (`Unavailable`) as upstream prints them in `rpc error: code = ... desc = ...`. */
export function grpcCodeName(code: number): string {
  return (CODE_NAMES[code] ?? 'unknown')
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

/**
 * Messages for conditions that clear up by themselves: bootstrap before CRI is up, time not yet in sync,
 * etcd not yet ready for recovery, the etcd upgrade lock held by another node, etcd reconfiguring.
 */
const TRANSIENT_MESSAGES = [
  /\bnot (available|ready|in sync)\b.*\byet\b/i,
  /failed to acquire upgrade mutex/i,
  // etcd refuses membership changes for a few seconds after a member (re)joins, and during elections.
  /etcdserver: (unhealthy cluster|leader changed|no leader)/i,
];

/** TLS failures: retrying the same certificates against the same node cannot help. */
const TLS_FAILURE = /certificate|self[- ]signed|unable to verify|handshake|alert|ERR_SSL|SSL routines|wrong version number/i;

function isRetryable(code: GrpcStatus, message: string): boolean {
  switch (code) {
    case GrpcStatus.UNAVAILABLE:
      return !TLS_FAILURE.test(message);
    case GrpcStatus.DEADLINE_EXCEEDED:
    case GrpcStatus.RESOURCE_EXHAUSTED:
    case GrpcStatus.ABORTED:
      return true;
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.UNKNOWN:
      return TRANSIENT_MESSAGES.some((re) => re.test(message));
    default:
      return false;
  }
}

/** Where an API error happened: which RPC, which node it targeted, which endpoint carried it. */
export interface ErrorSite {
  method: string;
  node?: string;
  endpoint?: string;
}

/**
 * An error returned by the Talos API or by the connection to it. `retryable` says whether repeating the
 * same call can succeed (node rebooting, deadline, transient precondition) or not (denied, invalid, TLS trust).
 */
export class TalosApiError extends FleetError {
  readonly grpcCode: GrpcStatus;
  readonly retryable: boolean;
  readonly method: string;
  readonly node?: string;
  readonly endpoint?: string;
  /** The server's own message, without our prefix. */
  readonly detail: string;

  constructor(grpcCode: GrpcStatus, detail: string, site: ErrorSite, options?: { cause?: unknown }) {
    const where = site.node ? `node ${site.node}${site.endpoint && site.endpoint !== site.node ? ` (via ${site.endpoint})` : ''}` : `endpoint ${site.endpoint ?? '?'}`;
    const hint = grpcCode === GrpcStatus.UNAVAILABLE && TLS_FAILURE.test(detail) ? ' (TLS failed: does the talosconfig CA match the cluster, and is the certificate still valid?)' : '';
    super(CODE_NAMES[grpcCode] ?? 'unknown', `${site.method} on ${where}: ${grpcCodeName(grpcCode)}: ${detail}${hint}`, options);
    this.grpcCode = grpcCode;
    this.retryable = isRetryable(grpcCode, detail);
    this.method = site.method;
    this.node = site.node;
    this.endpoint = site.endpoint;
    this.detail = detail;
  }
}

/** Bootstrap's `AlreadyExists`: etcd already has data on that node, so the cluster is already bootstrapped. */
export class AlreadyBootstrappedError extends TalosApiError {
  constructor(detail: string, site: ErrorSite, options?: { cause?: unknown }) {
    super(GrpcStatus.ALREADY_EXISTS, `already bootstrapped (${detail})`, site, options);
  }
}

interface GrpcLikeError {
  code?: number;
  details?: string;
  message?: string;
}

/** Maps a grpc-js error (or an abort) to a {@link TalosApiError} that names the method, node and endpoint. */
export function toTalosError(err: unknown, site: ErrorSite): TalosApiError {
  if (err instanceof TalosApiError) return err;
  const e = (err ?? {}) as GrpcLikeError;
  const code: GrpcStatus = typeof e.code === 'number' ? (e.code) : GrpcStatus.UNKNOWN;
  const detail = e.details || e.message || String(err);
  return fromStatus(code, detail, site, err);
}

/** Builds the right error class for a status code and message (from a call, or from a node's reply metadata). */
export function fromStatus(code: GrpcStatus, detail: string, site: ErrorSite, cause?: unknown): TalosApiError {
  if (code === GrpcStatus.ALREADY_EXISTS && site.method.endsWith('/Bootstrap')) {
    return new AlreadyBootstrappedError(detail, site, { cause });
  }
  return new TalosApiError(code, detail, site, { cause });
}
