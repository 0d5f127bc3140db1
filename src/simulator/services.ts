/** Service states as Talos names them (ServiceInfo.state). */
export type ServiceState = 'Initialized' | 'Starting' | 'Waiting' | 'Preparing' | 'Running' | 'Stopping' | 'Finished' | 'Failed' | 'Skipped';

export interface ServiceEventRecord {
  msg: string;
  state: ServiceState;
  at: number;
}

/** One Talos service (machined, apid, etcd, kubelet...) with its state history and health. */
export interface ServiceRecord {
  id: string;
  state: ServiceState;
  events: ServiceEventRecord[];
  health: { unknown: boolean; healthy: boolean; lastMessage: string; lastChange: number };
}

/** Talos keeps the last 64 events per service. */
const MAX_SERVICE_EVENTS = 64;

/** The services each node runs: every node has these; control planes add trustd and etcd. */
export function serviceIds(role: 'controlplane' | 'worker'): string[] {
  const common = ['apid', 'containerd', 'cri', 'dashboard', 'kubelet', 'machined', 'syslogd', 'udevd', 'auditd'];
  return [...common, ...(role === 'controlplane' ? ['etcd', 'trustd'] : [])].sort();
}

/** The node's services, with transitions recorded the way machined's service runner reports them. */
export class ServiceTable {
  private readonly services = new Map<string, ServiceRecord>();

  constructor(private readonly onChange: (service: ServiceRecord, message: string) => void = () => undefined) {}

  /** Forgets every service: a machine powering off loses its runtime state. */
  clear(): void {
    this.services.clear();
  }

  get(id: string): ServiceRecord | undefined {
    return this.services.get(id);
  }

  list(): ServiceRecord[] {
    return [...this.services.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Moves a service to a state with the message Talos would log. */
  transition(id: string, state: ServiceState, msg: string): ServiceRecord {
    const now = Date.now();
    let s = this.services.get(id);
    if (!s) {
      s = { id, state, events: [], health: { unknown: true, healthy: false, lastMessage: '', lastChange: now } };
      this.services.set(id, s);
    }
    s.state = state;
    s.events.push({ msg, state, at: now });
    if (s.events.length > MAX_SERVICE_EVENTS) s.events.shift();
    if (state !== 'Running') s.health = { unknown: true, healthy: false, lastMessage: '', lastChange: now };
    this.onChange(s, msg);
    return s;
  }

  /** Records a health check result; only a change is an event (and reported), as upstream does. */
  setHealth(id: string, healthy: boolean, message = ''): void {
    const s = this.services.get(id);
    if (!s) return;
    if (!s.health.unknown && s.health.healthy === healthy && s.health.lastMessage === message) return;
    s.health = { unknown: false, healthy, lastMessage: message, lastChange: Date.now() };
    const msg = healthy ? 'Health check successful' : `Health check failed: ${message}`;
    s.events.push({ msg, state: s.state, at: Date.now() });
    if (s.events.length > MAX_SERVICE_EVENTS) s.events.shift();
    this.onChange(s, msg);
  }

  /** Up as Talos counts it: running and healthy, or finished, or skipped. */
  isUp(id: string): boolean {
    const s = this.services.get(id);
    return !!s && ((s.state === 'Running' && s.health.healthy) || s.state === 'Finished' || s.state === 'Skipped');
  }
}
