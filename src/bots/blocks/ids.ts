/** Block, action and callback ids the builders put in messages and the listeners match on (one place for both). */

/** Action ids of the gate buttons are `gate:<choice>`. */
export const GATE_ACTION_PREFIX = 'gate:';
/** Matches every gate button. */
export const GATE_ACTION = /^gate:(approve|reject|retry|rollback|skip|abort)$/;
/** The actions block of a gate message. */
export const GATE_ACTIONS_BLOCK = 'gate-actions';

/** The confirmation modal of `/restore`. */
export const CONFIRM_RESTORE_VIEW = 'confirm-restore';
/** The confirmation modal of `/fleet abort`. */
export const CONFIRM_ABORT_VIEW = 'confirm-abort';
/** The optional reason field of the abort modal. */
export const REASON_BLOCK = 'reason';
export const REASON_INPUT = 'reason-input';

/** What a gate button carries: the run, the gate and when it opened (so a stale button cannot decide a newer gate). */
export interface GateButtonValue {
  /** The run reference (`CLUSTER@RUNID`). */
  r: string;
  /** Gate name. */
  g: string;
  /** When the gate opened (ISO). */
  o: string;
}
