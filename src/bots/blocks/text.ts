/** Small helpers for Slack's mrkdwn: escaping, mentions, times. Pure. */

/** Slack user ids (`U…`, `W…`); everything else a run records as a person is a CLI user name. */
const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

/** Escapes the three characters mrkdwn treats as control characters (Slack's rule for any text we did not write). */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A person as Slack shows them: a mention for a Slack user id, the name in code style for a CLI user. */
export function who(user: string): string {
  return SLACK_USER_ID.test(user) ? `<@${user}>` : `\`${escapeText(user)}\``;
}

/** Escapes text and turns the Slack user ids in it into mentions (validator messages name users by id). */
export function mentionIds(text: string): string {
  return escapeText(text).replace(/\b([UW][A-Z0-9]{8,})\b/g, '<@$1>');
}

/** `2026-12-01 10:02:03 UTC` from an ISO time. */
export function utc(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)} UTC`;
}

/** `10:02:03` from an ISO time (thread lines). */
export function clock(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().slice(11, 19);
}

/** Cuts text to Slack's limit for one text field, saying so. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 12)}… (cut)`;
}

/** Splits lines into texts of at most `max` characters each, never inside a line (unless one line is longer). */
export function chunkLines(lines: string[], max: number): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of lines) {
    const line = clip(raw, max);
    if (current && current.length + 1 + line.length > max) {
      out.push(current);
      current = '';
    }
    current = current ? `${current}\n${line}` : line;
  }
  if (current) out.push(current);
  return out;
}
