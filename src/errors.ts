/**
 * Base class of every error this project raises on purpose: a stable string `code` plus the human message.
 * `retryable` says whether repeating the same operation can succeed; Temporal activities turn a FleetError into an
 * `ApplicationFailure` with `type = code` and `nonRetryable = !retryable` (table: src/talos/errors.ts).
 */
export class FleetError extends Error {
  readonly retryable: boolean;

  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown; retryable?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retryable = options?.retryable ?? false;
  }
}

/** One problem found by a validator, located by a dotted field path (`machine.ca.crt`, `contexts.prod.endpoints[0]`). */
export interface Problem {
  path: string;
  message: string;
}

/**
 * Raised when input fails validation. Validators collect every problem and report them together,
 * so the user fixes a file once instead of once per error. Never retryable: the same input fails the same way.
 */
export class ValidationError extends FleetError {
  constructor(
    /** What was validated: a file path, `machine config`, `talosconfig context "prod"`. */
    readonly subject: string,
    readonly problems: Problem[],
  ) {
    super(
      'invalid_input',
      `${subject} is invalid:\n${problems.map((p) => `  - ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n')}`,
    );
  }
}
