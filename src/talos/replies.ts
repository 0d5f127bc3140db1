import { FleetError } from '../errors';
import type { TalosApiError } from './errors';

/**
 * One node's share of a reply. In one-to-many calls a node's failure arrives inside a successful call,
 * so every result is either a value or an error, never silently dropped.
 */
export type NodeResult<T> = { node: string; value: T; error?: undefined } | { node: string; error: TalosApiError; value?: undefined };

/**
 * Raised by {@link allValues} when several nodes failed; carries every node's error. Its code is the first
 * error's; it is retryable only if every failure is one a retry can fix.
 */
export class NodeErrors extends FleetError {
  /** True if any node may have acted on the request although its call failed. */
  readonly mayHaveApplied: boolean;

  constructor(readonly errors: TalosApiError[]) {
    super(errors[0]?.code ?? 'unknown', errors.map((e) => e.message).join('\n'), { retryable: errors.every((e) => e.retryable) });
    this.mayHaveApplied = errors.some((e) => e.mayHaveApplied);
  }
}

/** The values of every node, or a {@link NodeErrors} naming each node that failed. */
export function allValues<T>(results: NodeResult<T>[]): T[] {
  const errors = results.flatMap((r) => (r.error ? [r.error] : []));
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) throw new NodeErrors(errors);
  return results.map((r) => r.value as T);
}

/** The value of a call that targeted exactly one node. */
export function onlyValue<T>(results: NodeResult<T>[]): T {
  if (results.length !== 1) {
    throw new FleetError('unexpected_reply', `expected a reply from exactly one node, got ${results.length} (${results.map((r) => r.node).join(', ')})`);
  }
  return allValues(results)[0]!;
}
