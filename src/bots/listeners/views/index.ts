import type { App } from '@slack/bolt';
import { CONFIRM_ABORT_VIEW, CONFIRM_RESTORE_VIEW } from '../../blocks/ids';
import type { BotDeps } from '../../deps';
import { confirmAbort } from './confirm-abort';
import { confirmRestore } from './confirm-restore';

/** Registers the confirmation modals' submissions. */
export function register(app: App, deps: BotDeps): void {
  app.view(CONFIRM_RESTORE_VIEW, confirmRestore(deps));
  app.view(CONFIRM_ABORT_VIEW, confirmAbort(deps));
}
