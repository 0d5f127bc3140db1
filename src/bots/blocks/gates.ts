import type { types } from '@slack/bolt';
import type { ClosedGate, GateChoice, GateDecision, OpenGate } from '../../shared/runs';
import { GATE_ACTION_PREFIX, GATE_ACTIONS_BLOCK, type GateButtonValue } from './ids';
import { context, section, type SlackMessage } from './message';
import { clip, escapeText, utc, who } from './text';

const LABEL: Record<GateChoice, string> = { approve: 'Approve', reject: 'Reject', retry: 'Retry', rollback: 'Roll back', skip: 'Skip', abort: 'Abort' };
const PAST: Record<GateChoice | 'timed-out', string> = {
  approve: 'approved',
  reject: 'rejected',
  retry: 'chose to retry',
  rollback: 'chose to roll back',
  skip: 'chose to skip',
  abort: 'aborted',
  'timed-out': 'timed out',
};
const OUTCOME_MARK: Record<GateChoice | 'timed-out', string> = {
  approve: ':white_check_mark:',
  reject: ':no_entry:',
  retry: ':repeat:',
  rollback: ':rewind:',
  skip: ':fast_forward:',
  abort: ':octagonal_sign:',
  'timed-out': ':hourglass:',
};

/** Choices that change or stop things get Slack's own "are you sure?" dialog on the button. */
const CONFIRM: Partial<Record<GateChoice, string>> = {
  reject: 'The run stops here; nothing further is changed.',
  rollback: 'The node is rolled back to the Talos version it ran before (its other A/B slot) and rebooted.',
  abort: 'The run stops at this gate; nothing further is changed.',
};

/** What a gate's buttons carry, as the string Slack stores (at most 2000 characters; ours are about 80). */
export function gateButtonValue(ref: string, gate: OpenGate): string {
  const value: GateButtonValue = { r: ref, g: gate.name, o: gate.openedAt };
  return JSON.stringify(value);
}

function isClosed(gate: OpenGate | ClosedGate): gate is ClosedGate {
  return 'outcome' in gate;
}

function decisionLine(d: GateDecision): string {
  return `${OUTCOME_MARK[d.choice]} ${who(d.user)} ${PAST[d.choice]} at ${utc(d.at)}${d.reason ? `: ${escapeText(d.reason)}` : ''}`;
}

function button(ref: string, gate: OpenGate, choice: GateChoice): types.Button {
  const style = choice === 'approve' || choice === 'retry' ? 'primary' : choice === 'reject' || choice === 'abort' || choice === 'rollback' ? 'danger' : undefined;
  const confirm = CONFIRM[choice];
  return {
    type: 'button',
    action_id: `${GATE_ACTION_PREFIX}${choice}`,
    text: { type: 'plain_text', text: LABEL[choice] },
    value: gateButtonValue(ref, gate),
    ...(style ? { style } : {}),
    ...(confirm
      ? { confirm: { title: { type: 'plain_text', text: `${LABEL[choice]}?` }, text: { type: 'mrkdwn', text: confirm }, confirm: { type: 'plain_text', text: LABEL[choice] }, deny: { type: 'plain_text', text: 'Cancel' } } }
      : {}),
  };
}

/**
 * A gate's message in the run's thread: what the gate is about and its buttons while it is open (with the
 * approvals so far); once decided, the buttons are replaced by who decided what and when.
 */
export function gateMessage(gate: OpenGate | ClosedGate, run: { ref: string; cluster: string; operation: string }): SlackMessage {
  const kind = gate.kind === 'approval' ? 'Approval' : 'Decision';
  const about = `*${kind} needed: ${escapeText(run.operation)} ${escapeText(run.cluster)}, gate \`${escapeText(gate.name)}\`*${gate.node ? ` (node \`${escapeText(gate.node)}\`)` : ''}\n${clip(escapeText(gate.summary), 2800)}`;
  const blocks: SlackMessage['blocks'] = [section(about)];
  const lines = gate.decisions.map(decisionLine);
  if (isClosed(gate)) {
    if (gate.outcome === 'timed-out') lines.push(`${OUTCOME_MARK['timed-out']} not answered in time (closed at ${utc(gate.closedAt)})`);
    blocks.push(section(lines.join('\n') || `${OUTCOME_MARK[gate.outcome]} ${PAST[gate.outcome]} at ${utc(gate.closedAt)}`));
    const by = gate.decisions.at(-1);
    return { text: `gate ${gate.name} of ${run.operation} ${run.cluster}: ${PAST[gate.outcome]}${by ? ` by ${by.user}` : ''}`, blocks };
  }
  const approvals = gate.decisions.filter((d) => d.choice === 'approve').length;
  const needed = gate.kind === 'approval' ? `needs ${gate.approvalsNeeded} approval${gate.approvalsNeeded > 1 ? 's from distinct approvers' : ''}${approvals ? `, ${gate.approvalsNeeded - approvals} more to go` : ''}` : 'one answer decides';
  if (lines.length) blocks.push(section(lines.join('\n')));
  blocks.push(context(`${needed} · opened ${utc(gate.openedAt)}`));
  blocks.push({ type: 'actions', block_id: GATE_ACTIONS_BLOCK, elements: gate.choices.map((c) => button(run.ref, gate, c)) });
  return { text: `${kind} needed: ${run.operation} ${run.cluster}, gate ${gate.name} (${gate.choices.join(' / ')})`, blocks };
}
