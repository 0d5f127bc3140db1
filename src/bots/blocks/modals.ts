import type { types } from '@slack/bolt';
import type { ClusterSpec } from '../../fleet/schema';
import type { RunProgress } from '../../shared/runs';
import { CONFIRM_ABORT_VIEW, CONFIRM_RESTORE_VIEW, REASON_BLOCK, REASON_INPUT } from './ids';
import { section } from './message';
import { escapeText, who } from './text';

/** What a confirmation modal carries to its submission (Slack keeps at most 3000 characters of it). */
export interface ConfirmMetadata {
  cluster: string;
  snapshot?: string;
  run?: string;
  /** Where the answer to the submission goes (the command's response_url). */
  responseUrl: string;
}

function modal(callbackId: string, title: string, submit: string, metadata: ConfirmMetadata, blocks: types.KnownBlock[]): types.ModalView {
  return {
    type: 'modal',
    callback_id: callbackId,
    private_metadata: JSON.stringify(metadata),
    title: { type: 'plain_text', text: title.slice(0, 24) },
    submit: { type: 'plain_text', text: submit },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks,
  };
}

function reasonInput(): types.InputBlock {
  return { type: 'input', block_id: REASON_BLOCK, optional: true, label: { type: 'plain_text', text: 'Reason (recorded in the run)' }, element: { type: 'plain_text_input', action_id: REASON_INPUT, max_length: 300 } };
}

/** `/restore`: what a restore does to the cluster, before anything starts. */
export function confirmRestoreModal(cluster: ClusterSpec, metadata: ConfirmMetadata): types.ModalView {
  const controlPlanes = cluster.nodes.filter((n) => n.role === 'controlplane').map((n) => `\`${escapeText(n.name)}\``);
  const approvals = cluster.policy.requiredApprovals.restore;
  const gated = cluster.policy.gates.restore.length > 0;
  return modal(CONFIRM_RESTORE_VIEW, `Restore ${cluster.name}?`, 'Start the restore', metadata, [
    section(`:warning: *Restore etcd of ${escapeText(cluster.name)}* from ${metadata.snapshot ? `snapshot \`${escapeText(metadata.snapshot)}\`` : '*the latest snapshot*'}.`),
    section(
      [
        `• etcd on every control plane (${controlPlanes.join(', ')}) is wiped and recovered from the snapshot.`,
        '• Everything written to Kubernetes after the snapshot was taken is lost.',
        gated ? `• The run then stops at its approval gate: it needs ${approvals} approval${approvals > 1 ? 's from distinct approvers' : ''} (${cluster.policy.approvers.map(who).join(', ')}) before it touches a node.` : '• The inventory sets no gate for restores: it starts on the nodes at once.',
      ].join('\n'),
    ),
    reasonInput(),
  ]);
}

/** `/fleet abort`: where the run stands and what stopping it means. */
export function confirmAbortModal(ref: string, progress: RunProgress, metadata: ConfirmMetadata): types.ModalView {
  const working = progress.nodes.filter((n) => n.state === 'working').map((n) => `\`${escapeText(n.name)}\``);
  const done = progress.nodes.filter((n) => n.state === 'done').length;
  return modal(CONFIRM_ABORT_VIEW, `Abort ${progress.operation}?`, 'Abort the run', metadata, [
    section(`:octagonal_sign: *Abort the ${escapeText(progress.operation)} of ${escapeText(progress.cluster)}* (run \`${escapeText(ref)}\`, started by ${who(progress.requester)}).`),
    section(
      [
        `• Now: phase \`${escapeText(progress.phase)}\`, ${done}/${progress.nodes.length} nodes done${progress.gate ? `, waiting at gate *${escapeText(progress.gate.name)}*` : ''}.`,
        working.length ? `• The node in hand (${working.join(', ')}) finishes its step first; no further node is touched.` : '• No node is being changed right now: the run stops at once.',
        '• Nodes already done stay as they are: an abort does not roll anything back.',
      ].join('\n'),
    ),
    reasonInput(),
  ]);
}
