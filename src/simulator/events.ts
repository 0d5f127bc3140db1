import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';

/** One machine event as Talos keeps it: a payload message (by type name), an id that sorts by time, an actor. */
export interface MachineEvent {
  id: string;
  actorId: string;
  /** Full proto name of the payload: `machine.MachineStatusEvent`, `machine.PhaseEvent`, ... */
  type: string;
  payload: Record<string, unknown>;
  at: number;
}

const MAX_EVENTS = 1_000;

/**
 * The node's event log: a bounded history plus live subscribers, like machined's event stream
 * (EventsRequest tail_events / tail_id / tail_seconds / with_actor_id, then follow).
 */
export class EventLog {
  private readonly events: MachineEvent[] = [];
  private readonly emitter = new EventEmitter();
  private counter = 0;

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  /** Ids sort in time order, like upstream's xid-based ids. */
  private nextId(): string {
    this.counter += 1;
    return `${Date.now().toString(36).padStart(9, '0')}${this.counter.toString(36).padStart(6, '0')}${randomBytes(3).toString('hex')}`;
  }

  publish(type: string, payload: Record<string, unknown>, actorId = ''): MachineEvent {
    const event: MachineEvent = { id: this.nextId(), actorId, type, payload, at: Date.now() };
    this.events.push(event);
    if (this.events.length > MAX_EVENTS) this.events.shift();
    this.emitter.emit('event', event);
    return event;
  }

  /** The history a new subscriber starts with. */
  history(opts: { tailEvents: number; tailId: string; tailSeconds: number; actorId: string }): MachineEvent[] {
    let selected = this.events;
    if (opts.tailId) {
      const i = selected.findIndex((e) => e.id === opts.tailId);
      selected = i >= 0 ? selected.slice(i + 1) : selected;
    } else if (opts.tailSeconds > 0) {
      const since = Date.now() - opts.tailSeconds * 1000;
      selected = selected.filter((e) => e.at >= since);
    } else if (opts.tailEvents > 0) {
      selected = selected.slice(-opts.tailEvents);
    } else if (opts.tailEvents === 0) {
      selected = [];
    }
    return opts.actorId ? selected.filter((e) => e.actorId === opts.actorId) : [...selected];
  }

  subscribe(listener: (e: MachineEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
