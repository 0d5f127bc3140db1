import { Context } from '@temporalio/activity';

/** The result of a check that an activity may wait for a while (heartbeating) before answering "not yet". */
export interface CheckResult {
  done: boolean;
  detail: string;
}

/** How long a check activity sleeps between two looks when its caller names no interval. */
const DEFAULT_POLL_MS = 500;

/**
 * Polls `check` every `pollMs` until it is done or `windowMs` passes, heartbeating the latest detail, so a waiting
 * step costs one short activity per window instead of one per look, and a dead worker is noticed by its heartbeat.
 */
export async function pollWithin<T extends CheckResult>(windowMs: number, check: () => Promise<T>, pollMs = DEFAULT_POLL_MS): Promise<T> {
  const deadline = Date.now() + windowMs;
  const ctx = Context.current();
  for (;;) {
    const result = await check();
    if (result.done || Date.now() >= deadline) return result;
    ctx.heartbeat(result.detail);
    await ctx.sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
  }
}
