/** Base class of every error this project raises on purpose: a stable string `code` plus the human message. */
export class FleetError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem found by a validator, located by a dotted field path (`machine.ca.crt`, `contexts.prod.endpoints[0]`). */
export interface Problem {
  path: string;
  message: string;
}

/**
 * Raised when input fails validation. Validators collect every problem and report them together,
 * so the user fixes a file once instead of once per error.
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
