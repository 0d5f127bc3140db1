import type { App, BlockButtonAction } from '@slack/bolt';
import { GATE_ACTION } from '../../blocks/ids';
import type { BotDeps } from '../../deps';
import { gateDecision } from './gate-decision';

/** Registers the gate buttons (Approve, Reject, Retry, Roll back, Skip, Abort). */
export function register(app: App, deps: BotDeps): void {
  app.action<BlockButtonAction>({ type: 'block_actions', action_id: GATE_ACTION }, gateDecision(deps));
}
