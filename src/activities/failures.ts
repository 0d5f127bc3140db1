import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FleetError } from '../errors';

/**
 * How an activity's error reaches the workflow: an `ApplicationFailure` whose `type` is the error's stable `code`
 * (`unavailable`, `permission_denied`, `unknown_cluster`, ...) and whose `nonRetryable` flag is the error's own
 * verdict (`retryable` on every FleetError). So retry policies need no list of type names: what retrying cannot fix
 * fails at once, what it can is retried with backoff. Errors that are not ours (a bug, a library) stay retryable,
 * bounded by the activity's maximum attempts. The activity's own cancellation stays a cancellation: a Talos call
 * stopped by the activity's signal (code `cancelled`, its cause the signal's reason, Temporal's `CancelledFailure`)
 * becomes that `CancelledFailure`, and one thrown as it is passes through, so Temporal records the activity as
 * cancelled instead of retrying it. The failure (and so the workflow history) holds the error's message, stack and
 * causes, none of its other fields: messages name fields, never their secret values (src/config, src/talos/errors.ts).
 */
export function toActivityFailure(err: unknown): ApplicationFailure | CancelledFailure {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  if (err instanceof FleetError && err.code === 'cancelled' && err.cause instanceof CancelledFailure) return err.cause;
  if (err instanceof FleetError) {
    return ApplicationFailure.create({ type: err.code, message: err.message, nonRetryable: !isRetryable(err), cause: err });
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return ApplicationFailure.create({ type: e.name, message: e.message, nonRetryable: false, cause: e });
}

function isRetryable(err: FleetError): boolean {
  return (err as { retryable?: unknown }).retryable === true;
}

/** An error a retry cannot fix, with a stable type for the workflow and the history. */
export function permanent(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** A condition that will probably clear (a node still booting): the activity is retried with backoff. */
export function transient(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: false });
}

/** How often a wrapped activity heartbeats while it runs, so a dead worker is noticed within the heartbeat timeout. */
const HEARTBEAT_EVERY_MS = 1_000;

const progress = new WeakMap<Context, unknown>();

/**
 * Sets what the running activity's heartbeats carry (a transfer's bytes and rate): `describe()` shows it as the
 * pending activity's heartbeat details, which is how `--wait` prints a transfer's progress.
 */
export function reportProgress(details: unknown): void {
  progress.set(Context.current(), details);
}

/**
 * Wraps every activity of a group: it heartbeats while it runs (a SIGKILLed worker's activity is retried elsewhere
 * after the heartbeat timeout, not after its start-to-close timeout) and its errors become ApplicationFailures.
 */
export function wrapActivities<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const wrapped: Record<string, (...args: never[]) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      const ctx = Context.current();
      const timer = setInterval(() => ctx.heartbeat(progress.get(ctx)), HEARTBEAT_EVERY_MS);
      try {
        return await fn(...args);
      } catch (err) {
        throw toActivityFailure(err);
      } finally {
        clearInterval(timer);
      }
    };
  }
  return wrapped as T;
}
