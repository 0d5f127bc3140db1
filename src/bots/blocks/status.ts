import type { NodeProgress, RunProgress, RunStatus } from '../../shared/runs';
import { context, section, type SlackMessage } from './message';
import { chunkLines, clip, escapeText, utc, who } from './text';

const STATUS_MARK: Record<RunStatus, string> = {
  running: ':arrows_counterclockwise:',
  waiting: ':double_vertical_bar:',
  completed: ':white_check_mark:',
  failed: ':x:',
  aborted: ':octagonal_sign:',
};

const NODE_MARK: Record<NodeProgress['state'], string> = {
  pending: ':white_circle:',
  working: ':hourglass_flowing_sand:',
  done: ':white_check_mark:',
  skipped: ':fast_forward:',
  failed: ':x:',
};

/** The run a message is about: its reference and, when the Temporal UI is known, a link to it. */
export interface RunLink {
  ref: string;
  url?: string;
}

/** One line per node: state, name, role, and what it is doing or did. */
export function nodeLines(nodes: NodeProgress[]): string[] {
  return nodes.map((n) => `${NODE_MARK[n.state]} \`${escapeText(n.name)}\` ${n.role} — ${n.state}${n.detail ? `: ${escapeText(n.detail)}` : ''}`);
}

/**
 * The one message a run has in its cluster's channel, redrawn in place on every batch of notifications: status and
 * phase, who asked, every node, the open gate, the gates decided, the error, and the link to the Temporal UI.
 */
export function statusMessage(p: RunProgress, run: RunLink): SlackMessage {
  const done = p.nodes.filter((n) => n.state === 'done').length;
  const headline = `${STATUS_MARK[p.status]} *${escapeText(p.operation)} ${escapeText(p.cluster)}*: *${p.status}* · phase \`${escapeText(p.phase)}\`${p.nodes.length ? ` · ${done}/${p.nodes.length} nodes done` : ''}`;
  const link = run.url ? `<${run.url}|${escapeText(run.ref)}> in the Temporal UI` : `run \`${escapeText(run.ref)}\``;
  const blocks: SlackMessage['blocks'] = [section(headline), context(`requested by ${who(p.requester)}`, link)];
  for (const text of chunkLines(nodeLines(p.nodes), 2900)) blocks.push(section(text));
  if (p.gate) blocks.push(section(`:double_vertical_bar: waiting at gate *${escapeText(p.gate.name)}* (${p.gate.choices.join(' / ')}): ${clip(escapeText(p.gate.summary), 2500)}`));
  const decided = p.gates.map((g) => `gate *${escapeText(g.name)}*: ${g.outcome}${g.decisions.length ? ` by ${g.decisions.map((d) => who(d.user)).join(', ')}` : ''} at ${utc(g.closedAt)}`);
  if (decided.length) blocks.push(context(clip(decided.join('\n'), 2900)));
  if (p.error) blocks.push(section(`:warning: ${clip(escapeText(p.error), 2900)}`));
  // Last, so the message ends with what the run achieved (a snapshot's id, a restore's proof).
  if (p.outcome) blocks.push(section(`:white_check_mark: ${clip(escapeText(p.outcome), 2900)}`));
  if (p.abortedBy && p.status !== 'aborted') blocks.push(context(`abort requested by ${who(p.abortedBy)}: stopping at the next safe point`));
  const nodes = p.nodes.map((n) => `${n.name} ${n.state}`).join(', ');
  return { text: `${p.operation} ${p.cluster}: ${p.status} (${p.phase})${nodes ? `; ${nodes}` : ''}${p.outcome ? `; ${p.outcome}` : ''}`, blocks: blocks.slice(0, 50) };
}
