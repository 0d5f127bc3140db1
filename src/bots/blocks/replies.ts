import type { ClusterSpec } from '../../fleet/schema';
import type { RunSummary } from '../../runtime/runs';
import type { RunProgress } from '../../shared/runs';
import { escapeText, utc, who } from './text';

/** The reply to a command that started a run. */
export function startedText(operation: string, cluster: ClusterSpec, run: { ref: string; url?: string }): string {
  const where = cluster.slack ? `Progress and its gates are in <#${cluster.slack.channel}>.` : `Cluster ${cluster.name} has no \`slack.channel\` in the inventory, so its progress is not posted: follow it with \`/fleet status ${cluster.name}\`.`;
  return `Started ${escapeText(operation)} of *${escapeText(cluster.name)}*: run \`${escapeText(run.ref)}\`${run.url ? ` (<${run.url}|Temporal UI>)` : ''}. ${where}`;
}

/** One line of `/fleet runs`. */
export function runLine(r: RunSummary): string {
  return `• \`${escapeText(r.id)}\` ${escapeText(r.operation)} *${r.status}*${r.requester ? ` by ${who(r.requester)}` : ''}, started ${utc(r.start)}${r.end ? `, ended ${utc(r.end)}` : ''}`;
}

/** One cluster in `/fleet status`: the inventory's view and its current or latest run. */
export function clusterStatusLine(c: ClusterSpec, latest: RunSummary | undefined, progress: RunProgress | undefined): string {
  const head = `*${escapeText(c.name)}*: Talos ${escapeText(c.talosVersion)}${c.kubernetesVersion ? `, Kubernetes ${escapeText(c.kubernetesVersion)}` : ''}, ${c.nodes.length} node${c.nodes.length === 1 ? '' : 's'}${c.slack ? `, <#${c.slack.channel}>` : ''}`;
  if (!latest) return `${head}\n    no runs yet`;
  if (progress && latest.status === 'running') {
    const done = progress.nodes.filter((n) => n.state === 'done').length;
    const gate = progress.gate ? `, waiting at gate *${escapeText(progress.gate.name)}*` : '';
    return `${head}\n    ${escapeText(progress.operation)} ${progress.status}: phase \`${escapeText(progress.phase)}\`, ${done}/${progress.nodes.length} nodes done${gate} (\`${escapeText(latest.id)}\`, by ${who(progress.requester)})`;
  }
  return `${head}\n    last run: ${escapeText(latest.operation)} *${latest.status}*${latest.end ? ` at ${utc(latest.end)}` : ''} (\`${escapeText(latest.id)}\`${latest.requester ? `, by ${who(latest.requester)}` : ''})`;
}
