import type { types } from '@slack/bolt';

/** A Slack message as the builders return it: the notification text (for previews and screen readers) and blocks. */
export interface SlackMessage {
  text: string;
  blocks: types.KnownBlock[];
}

/** A mrkdwn section. */
export function section(text: string): types.SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

/** A context line (small grey text). */
export function context(...texts: string[]): types.ContextBlock {
  return { type: 'context', elements: texts.map((text) => ({ type: 'mrkdwn', text })) };
}
