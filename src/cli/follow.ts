import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { runHandle, runProgress } from '../runtime/runs';
import type { RunEvent, RunProgress } from '../shared/runs';
import { delay } from '../time';

/** How a run ended, as `--wait` reports it. */
export interface RunOutcome {
  status: string;
  result?: unknown;
  error?: string;
  progress?: RunProgress;
}

const STATE_MARK: Record<string, string> = { pending: ' ', working: '~', done: '✓', skipped: '-', failed: '✗' };

/** What the run's activities in flight report of themselves (a transfer's bytes and rate), from their heartbeats. */
export function activityProgress(description: { raw: { pendingActivities?: { heartbeatDetails?: { payloads?: Parameters<typeof defaultPayloadConverter.fromPayload>[0][] | null } | null }[] | null } }): string[] {
  const lines: string[] = [];
  for (const a of description.raw.pendingActivities ?? []) {
    const payload = a.heartbeatDetails?.payloads?.[0];
    if (!payload) continue;
    try {
      const details = defaultPayloadConverter.fromPayload<{ progress?: unknown }>(payload);
      if (typeof details?.progress === 'string') lines.push(details.progress);
    } catch {
      // Details of another shape: nothing to show.
    }
  }
  return lines;
}

/** The block a terminal shows for a run, redrawn in place. */
export function renderProgress(p: RunProgress): string[] {
  const lines = [`${p.operation} ${p.cluster}: ${p.status} (${p.phase})`];
  for (const n of p.nodes) lines.push(`  [${STATE_MARK[n.state] ?? '?'}] ${n.name.padEnd(8)} ${n.role.padEnd(12)} ${n.detail}`);
  if (p.gate) {
    lines.push(`  waiting at gate ${p.gate.name}: ${p.gate.choices.join(' / ')}`);
    lines.push(`    ${p.gate.summary}`);
  }
  const last = p.events.at(-1);
  if (last) lines.push(`  ${last.message}`);
  return lines;
}

function eventKey(e: RunEvent): string {
  return `${e.at}|${e.node ?? ''}|${e.message}`;
}

/**
 * Follows a run until it ends: on a terminal, a block that updates in place; otherwise one plain line per event.
 * Progress comes from the run's Query, so it needs a running worker; until one answers, the display says so.
 */
export async function followRun(client: Client, ref: string, opts: { tty: boolean; write: (text: string) => void; intervalMs?: number }): Promise<RunOutcome> {
  const handle = runHandle(client, ref);
  const seen = new Set<string>();
  let drawn = 0;
  let last: RunProgress | undefined;
  let transfers: string[] = [];
  const draw = (p: RunProgress | undefined, note?: string) => {
    if (opts.tty) {
      const lines = p ? [...renderProgress(p), ...transfers.map((x) => `  ${x}`)] : [note ?? ''];
      opts.write(`${drawn ? `\x1b[${drawn}A\x1b[J` : ''}${lines.join('\n')}\n`);
      drawn = lines.length;
      return;
    }
    for (const e of p?.events ?? []) {
      if (seen.has(eventKey(e))) continue;
      seen.add(eventKey(e));
      opts.write(`${e.at} ${e.node ? `${e.node}: ` : ''}${e.message}\n`);
    }
  };
  for (;;) {
    const description = await handle.describe();
    transfers = activityProgress(description);
    try {
      last = await runProgress(client, ref);
      draw(last);
    } catch {
      draw(last, 'waiting for a worker to answer (is `talos-fleet worker` or `talos-fleet dev` running?)');
    }
    if (description.status.name !== 'RUNNING') break;
    await delay(opts.intervalMs ?? 500);
  }
  try {
    const result: unknown = await handle.result();
    return { status: 'completed', result, ...(last ? { progress: last } : {}) };
  } catch (err) {
    const status = (await handle.describe()).status.name.toLowerCase();
    let e = err as Error & { cause?: Error };
    while (e.cause && /Workflow execution failed|Activity task failed/.test(e.message)) e = e.cause as Error & { cause?: Error };
    return { status: last?.status === 'aborted' ? 'aborted' : status, error: e.message, ...(last ? { progress: last } : {}) };
  }
}
