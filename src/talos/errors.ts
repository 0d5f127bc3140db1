import { status as GrpcStatus } from '@grpc/grpc-js';
import { FleetError } from '../errors';

/**
 * Errors of the Talos client, and how a Temporal activity maps them. Every error the client raises is a
 * {@link FleetError}; an activity throws `ApplicationFailure.create({ type: err.code, nonRetryable: !err.retryable,
 * cause: err })`, except for `cancelled`, where it rethrows `err.cause` (the signal's reason, e.g. Temporal's
 * `CancelledFailure`) so that Temporal records a cancellation. Codes are stable; a retry policy may name them in
 * `nonRetryableErrorTypes`.
 *
 * | code                  | retryable | meaning |
 * |-----------------------|-----------|---------|
 * | `unavailable`         | yes       | the node could not be reached or the connection dropped: rebooting, powered off, network |
 * | `deadline_exceeded`   | yes       | no reply before the deadline (`mayHaveApplied` tells whether the request had left) |
 * | `cancelled`           | yes       | the caller's `AbortSignal` fired (`cause` is `signal.reason`), or the node cancelled the call |
 * | `closed`              | yes       | the client was closed before or during the call; a new client can repeat it |
 * | `aborted`             | yes       | the node aborted the call (a conflict that clears up) |
 * | `resource_exhausted`  | yes       | the node is out of a resource for now (rate limit, quota) |
 * | `unknown`             | some      | only these messages: etcd member not healthy / not started / not running, the upgrade mutex held, etcd reconfiguring, a deadline inside the node |
 * | `failed_precondition` | some      | only "... not available / ready / in sync yet" (bootstrap before CRI, time sync, etcd recovery) |
 * | `tls_failed`          | no        | TLS verification failed: the node's certificate is not from the talosconfig CA (a node still installing presents a self-signed one), does not name the address dialled, or does not match the pinned fingerprint; or the node refused our client certificate |
 * | `message_too_large`   | no        | a message exceeded the 32 MiB limit (RESOURCE_EXHAUSTED for message size) |
 * | `already_exists`      | no        | {@link AlreadyBootstrappedError} from Bootstrap: etcd already has data, treat as done |
 * | `permission_denied`   | no        | the client certificate's roles do not allow the method |
 * | `unauthenticated`     | no        | the node did not accept our credentials |
 * | `invalid_argument`    | no        | the node rejected the request (bad machine config, unknown member id...) |
 * | `not_found`           | no        | the service, member, file or resource does not exist |
 * | `unimplemented`       | no        | not served here: a worker asked for etcd, maintenance mode, an older Talos |
 * | `internal`, `data_loss`, `out_of_range` | no | the node failed in a way a retry will not fix |
 * | `invalid_target`, `invalid_option`, `no_endpoints`, `unknown_method`, `talosconfig_*`, `invalid_input`, `unexpected_reply`, `bad_kubeconfig` | no | raised by the client itself: fix the call or the talosconfig |
 *
 * Separately, every {@link TalosApiError} says whether the request **may have been applied** (`mayHaveApplied`):
 * true when it was sent and no definitive answer came back (deadline, connection dropped, cancelled or closed after
 * sending), false when it certainly was not (never connected, refused before sending, or the node answered with an
 * error). An activity that gets `mayHaveApplied` checks the node's state before repeating a non-idempotent call.
 */

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
 * etcd not yet ready for recovery, the etcd upgrade lock held by another node, etcd reconfiguring, an etcd member
 * that is down or restarting (the upgrade's etcd check), and a deadline inside the node.
 */
const TRANSIENT_MESSAGES = [
  /\bnot (available|ready|in sync)\b.*\byet\b/i,
  /failed to acquire upgrade mutex/i,
  // etcd refuses membership changes for a few seconds after a member (re)joins, and during elections.
  /etcdserver: (unhealthy cluster|leader changed|no leader)/i,
  /\betcd member \S+ is not (healthy|started)\b/i,
  /\betcd is not running\b/i,
  /context deadline exceeded/i,
];

/**
 * TLS verification failures: retrying with the same certificates against the same node cannot help.
 * The client's own connector says "TLS verification failed"; the other terms are what apid reports for a backend.
 * Deliberately narrow: a connection reset during a handshake is a node going down, not a verdict on certificates.
 */
export const TLS_VERIFICATION_FAILED = 'TLS verification failed';
const TLS_FAILURE = /TLS verification failed|certificate|x509|self[- ]signed|unable to verify|unknown (ca|authority)|wrong version number/i;

/** Message-size refusals: grpc-js's "Received message larger than max", "Attempted to send message with a size larger than", Go's "message larger than max". */
const MESSAGE_TOO_LARGE = /message larger than max|message with a size larger than|message size/i;

/** The connection could not be made at all (ours or apid's towards a backend), so nothing was sent. */
const NOT_CONNECTED = /No connection established|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|connection refused|no route to host|error while dialing/i;

/** What a status code and message mean for a retry: our error code and whether repeating the call can succeed. */
function classify(code: GrpcStatus, detail: string): { code: string; retryable: boolean } {
  const name = CODE_NAMES[code] ?? 'unknown';
  switch (code) {
    case GrpcStatus.UNAVAILABLE:
      return TLS_FAILURE.test(detail) ? { code: 'tls_failed', retryable: false } : { code: name, retryable: true };
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return MESSAGE_TOO_LARGE.test(detail) ? { code: 'message_too_large', retryable: false } : { code: name, retryable: true };
    case GrpcStatus.DEADLINE_EXCEEDED:
    case GrpcStatus.ABORTED:
    case GrpcStatus.CANCELLED:
      return { code: name, retryable: true };
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.UNKNOWN:
      return { code: name, retryable: TRANSIENT_MESSAGES.some((re) => re.test(detail)) };
    default:
      return { code: name, retryable: false };
  }
}

/**
 * Whether a failed request may have been applied, given whether it left this process (`sent`). Once sent, only an
 * answer from the node settles it: a deadline, a cancellation or a dropped connection leaves it open.
 */
export function mayHaveApplied(code: GrpcStatus, detail: string, sent: boolean): boolean {
  if (!sent) return false;
  switch (code) {
    case GrpcStatus.DEADLINE_EXCEEDED:
    case GrpcStatus.CANCELLED:
      return true;
    case GrpcStatus.UNAVAILABLE:
      return !NOT_CONNECTED.test(detail) && !TLS_FAILURE.test(detail);
    case GrpcStatus.INTERNAL:
      // grpc-js reports a stream reset by a dying connection as INTERNAL; a node's own INTERNAL is an answer.
      return /RST_STREAM|HTTP\/2|session/i.test(detail);
    case GrpcStatus.RESOURCE_EXHAUSTED:
      // "Received message larger than max": the node handled the request and its reply was refused here.
      return /^Received message larger than max/i.test(detail);
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

/** How a call ended, beyond its status: whether it left this process, and why we stopped it if we did. */
export interface ErrorContext {
  cause?: unknown;
  /** The request left this process (a stream to the node existed). Default: true, for a node's own answers. */
  sent?: boolean;
  /** Overrides the status-derived code: the caller cancelled (`cancelled`) or the client was closed (`closed`). */
  stoppedBy?: 'cancelled' | 'closed';
}

/**
 * An error returned by the Talos API or by the connection to it. `retryable` says whether repeating the
 * same call can succeed (node rebooting, deadline, transient precondition) or not (denied, invalid, TLS trust);
 * `mayHaveApplied` whether the node may have acted on the request although the call failed.
 */
export class TalosApiError extends FleetError {
  readonly grpcCode: GrpcStatus;
  readonly method: string;
  readonly node?: string;
  readonly endpoint?: string;
  /** The server's (or the transport's) own message, without our prefix. */
  readonly detail: string;
  /** True when the request was sent and no definitive reply came back; false when it certainly was not applied. */
  readonly mayHaveApplied: boolean;

  constructor(grpcCode: GrpcStatus, detail: string, site: ErrorSite, context: ErrorContext = {}) {
    const where = site.node ? `node ${site.node}${site.endpoint && site.endpoint !== site.node ? ` (via ${site.endpoint})` : ''}` : `endpoint ${site.endpoint ?? '?'}`;
    const classified = context.stoppedBy ? { code: context.stoppedBy, retryable: true } : classify(grpcCode, detail);
    const applied = mayHaveApplied(grpcCode, detail, context.sent ?? true);
    const hint =
      classified.code === 'tls_failed'
        ? ' (TLS failed: does the talosconfig CA match the cluster, and is the client certificate still valid? A node that is still installing presents a self-signed maintenance certificate)'
        : applied
          ? ' (the request may have reached the node: check its state before repeating it)'
          : '';
    super(classified.code, `${site.method} on ${where}: ${grpcCodeName(grpcCode)}: ${detail}${hint}`, { cause: context.cause, retryable: classified.retryable });
    this.grpcCode = grpcCode;
    this.method = site.method;
    this.node = site.node;
    this.endpoint = site.endpoint;
    this.detail = detail;
    this.mayHaveApplied = applied;
  }
}

/** Bootstrap's `AlreadyExists`: etcd already has data on that node, so the cluster is already bootstrapped. */
export class AlreadyBootstrappedError extends TalosApiError {
  constructor(detail: string, site: ErrorSite, context?: ErrorContext) {
    super(GrpcStatus.ALREADY_EXISTS, `already bootstrapped (${detail})`, site, context);
  }
}

interface GrpcLikeError {
  code?: number;
  details?: string;
  message?: string;
}

/** Maps a grpc-js error to a {@link TalosApiError} that names the method, node and endpoint. */
export function toTalosError(err: unknown, site: ErrorSite, context: Omit<ErrorContext, 'cause'> = {}): TalosApiError {
  if (err instanceof TalosApiError) return err;
  const e = (err ?? {}) as GrpcLikeError;
  const code: GrpcStatus = typeof e.code === 'number' ? e.code : GrpcStatus.UNKNOWN;
  const detail = e.details || e.message || String(err);
  return fromStatus(code, detail, site, { ...context, cause: err });
}

/** Builds the right error class for a status code and message (from a call, or from a node's reply metadata). */
export function fromStatus(code: GrpcStatus, detail: string, site: ErrorSite, context: ErrorContext = {}): TalosApiError {
  if (code === GrpcStatus.ALREADY_EXISTS && site.method.endsWith('/Bootstrap') && !context.stoppedBy) {
    return new AlreadyBootstrappedError(detail, site, context);
  }
  return new TalosApiError(code, detail, site, context);
}
