import { defaultPayloadConverter, type Payload } from '@temporalio/common';

/** The events of a run's history, as the server returns them. */
export async function historyEvents(handle: { fetchHistory(): Promise<{ events?: unknown[] | null }> }): Promise<Record<string, unknown>[]> {
  return ((await handle.fetchHistory()).events ?? []) as Record<string, unknown>[];
}

/** One history event about a Workflow Update: `Accepted`, `Completed`, `Admitted`, ... (Temporal records no `Rejected`). */
export interface UpdateEvent {
  kind: string;
  updateId: string;
  /** The Update's name and arguments, on the events that carry its request. */
  name?: string;
  args?: unknown[];
}

type Attributes = { acceptedRequest?: Request; request?: Request; meta?: { updateId?: string } };
type Request = { meta?: { updateId?: string }; input?: { name?: string; args?: { payloads?: Payload[] } } };

/** Every event of the history that is about an Update, with its request decoded. */
export function updateEvents(events: Record<string, unknown>[]): UpdateEvent[] {
  return events.flatMap((event) =>
    Object.entries(event).flatMap(([key, value]) => {
      const kind = /^workflowExecutionUpdate(\w+)EventAttributes$/.exec(key)?.[1];
      if (!kind || !value) return [];
      const attrs = value as Attributes;
      const request = attrs.acceptedRequest ?? attrs.request;
      const updateId = request?.meta?.updateId ?? attrs.meta?.updateId ?? '';
      if (!request?.input) return [{ kind, updateId }];
      return [{ kind, updateId, name: request.input.name ?? '', args: (request.input.args?.payloads ?? []).map((p) => defaultPayloadConverter.fromPayload(p)) }];
    }),
  );
}

/** Every Update id the history mentions anywhere (update events, protocol messages): a refused Update's id must not be among them. */
export function mentionedUpdateIds(events: Record<string, unknown>[]): string[] {
  const ids = new Set<string>();
  for (const m of JSON.stringify(events).matchAll(/"(?:updateId|protocolInstanceId)":"([^"]+)"/g)) ids.add(m[1]!);
  return [...ids];
}

/** Every payload of the history (inputs, results, activity arguments, heartbeats), decoded. */
export function historyPayloads(events: Record<string, unknown>[]): unknown[] {
  const out: unknown[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (!value || typeof value !== 'object' || value instanceof Uint8Array) return;
    const v = value as Record<string, unknown>;
    if (v.data instanceof Uint8Array && v.metadata && typeof v.metadata === 'object') {
      try {
        out.push(defaultPayloadConverter.fromPayload(v));
      } catch {
        // A payload in an encoding the default converter does not know: nothing of ours.
      }
      return;
    }
    Object.values(v).forEach(visit);
  };
  visit(events);
  return out;
}

/** Every object inside `values` that has all of `keys` (e.g. every gate decision `{ user, choice }` the history holds). */
export function objectsWith(values: unknown[], keys: string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (!value || typeof value !== 'object') return;
    const v = value as Record<string, unknown>;
    if (keys.every((k) => k in v)) out.push(v);
    Object.values(v).forEach(visit);
  };
  visit(values);
  return out;
}
