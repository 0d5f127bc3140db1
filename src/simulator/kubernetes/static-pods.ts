import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { CertificateAndKey } from '../../config/certs';
import { delay } from '../../time';
import { componentArgs, type KubernetesTimings } from './args';
import { writeControlPlaneSecrets, type ControlPlaneSecrets } from './pki';
import { httpsProbe } from './probe';
import { ComponentProcess } from './process';
import { COMPONENTS, type ComponentName, type ComponentSpec, type KubernetesSpec } from './spec';

/** The control-plane binaries. */
export interface ControlPlaneBinaries {
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
}

/** What the static pods of one control plane need to know about their node. */
export interface ControlPlaneHost {
  name: string;
  hostname: string;
  address: string;
  /** The node's disks: secrets go to `system/secrets/kubernetes`, logs to `var/log`. */
  dir: string;
  etcdClientUrl: string;
  etcdHealthy(): boolean;
}

/** One running static pod: what it was rendered from and Talos's config version of it. */
export interface RunningStaticPod {
  name: ComponentName;
  image: string;
  args: string[];
  /** `talos.dev/config-version`: bumped every time the pod is rendered anew from a changed config. */
  configVersion: number;
  /** When its process started (RFC 3339), as the kubelet reports the container's start. */
  startedAt: string;
  /** Ready: each component once its health endpoint answered; the API server's /readyz is followed while it runs. */
  ready: boolean;
}

/** A static pod as rendered and started; its readiness is the pods' own (see ControlPlanePods.pods). */
type RenderedPod = Omit<RunningStaticPod, 'ready'>;

const SECURE_PORTS: Record<ComponentName, number | undefined> = { 'kube-apiserver': undefined, 'kube-controller-manager': 10257, 'kube-scheduler': 10259 };

/** How long a component may take to become ready: three API servers starting together on two shared cores are slow. */
export const COMPONENT_READY_TIMEOUT_MS = 120_000;

/**
 * The three control-plane static pods of one node, as Talos runs them: rendered once the node's etcd member is
 * healthy (the API server stores in it), re-rendered (restarted, config version bumped) when the machine config
 * changes a component's image or flags, and stopped with the kubelet.
 */
export class ControlPlanePods {
  private readonly procs = new Map<ComponentName, ComponentProcess>();
  private readonly running = new Map<ComponentName, RenderedPod>();
  /** The last rendering of each pod and its config version; kept across reboots, as the version only counts changes. */
  private readonly rendered = new Map<ComponentName, RenderedPod>();
  private secrets?: ControlPlaneSecrets;
  private generation = 0;
  private ready = false;
  /** Why the pods could not start (an API server that never became ready), until they are started again. */
  failure?: string;

  constructor(
    private readonly host: ControlPlaneHost,
    private readonly bins: ControlPlaneBinaries,
    private readonly timings: KubernetesTimings,
    /** A client certificate the readiness probe authenticates with (anonymous requests are off). */
    private readonly probeClient: () => CertificateAndKey | undefined,
    private readonly onChange: () => void,
    private readonly log: (line: string) => void,
  ) {}

  /** True while this node's API server answers /readyz. */
  get apiServerReady(): boolean {
    return this.ready;
  }

  /** The static pods that run now, the API server ready as long as it answers /readyz. */
  pods(): RunningStaticPod[] {
    return COMPONENTS.flatMap((c) => {
      const pod = this.running.get(c);
      return pod ? [{ ...pod, ready: c !== 'kube-apiserver' || this.ready }] : [];
    });
  }

  /** The running process of a component, for measurements. */
  process(name: ComponentName): ComponentProcess | undefined {
    return this.procs.get(name);
  }

  logFile(name: ComponentName): string {
    return join(this.host.dir, 'var', 'log', `${name}.log`);
  }

  /** Starts the pods once etcd is healthy; resolves when they run, or when they were stopped first. */
  async start(spec: () => KubernetesSpec | undefined): Promise<void> {
    const generation = ++this.generation;
    this.failure = undefined;
    const current = () => generation === this.generation;
    while (current() && !this.host.etcdHealthy()) await delay(100);
    try {
      const rendered = spec();
      if (!current() || !rendered?.controlPlane) return;
      this.secrets = await writeControlPlaneSecrets(rendered, this.host, join(this.host.dir, 'system', 'secrets', 'kubernetes'));
      for (const name of COMPONENTS) {
        if (!current()) return;
        await this.startComponent(name, rendered, generation);
        if (name === 'kube-apiserver') void this.probeLoop(generation, rendered);
      }
    } catch (err) {
      if (!current()) return;
      this.failure = (err as Error).message;
      this.log(`static pods failed: ${this.failure}`);
      await this.stop(false);
      this.onChange();
    }
  }

  private async startComponent(name: ComponentName, spec: KubernetesSpec, generation: number): Promise<void> {
    const component = spec.controlPlane!.components[name];
    const args = componentArgs(name, spec, { address: this.host.address, etcdClientUrl: this.host.etcdClientUrl }, this.secrets!, this.timings);
    const binary = { 'kube-apiserver': this.bins.kubeApiserver, 'kube-controller-manager': this.bins.kubeControllerManager, 'kube-scheduler': this.bins.kubeScheduler }[name];
    const proc = new ComponentProcess({ name, binary, args, logFile: this.logFile(name), readyTimeoutMs: COMPONENT_READY_TIMEOUT_MS, ready: () => this.probe(name, spec) });
    this.procs.set(name, proc);
    this.log(`starting static pod ${name} (${component.image})`);
    const startedAt = new Date().toISOString();
    await proc.start();
    if (generation !== this.generation) return;
    const previous = this.rendered.get(name);
    const configVersion = !previous ? 1 : this.sameRendering(previous, component, args) ? previous.configVersion : previous.configVersion + 1;
    const pod = { name, image: component.image, args, configVersion, startedAt };
    this.rendered.set(name, pod);
    this.running.set(name, pod);
    if (name === 'kube-apiserver') this.ready = true;
    this.log(`static pod ${name} is ready`);
    this.onChange();
  }

  private sameRendering(pod: RenderedPod, component: ComponentSpec, args: string[]): boolean {
    return pod.image === component.image && isDeepStrictEqual(pod.args, args);
  }

  private probe(name: ComponentName, spec: KubernetesSpec): Promise<boolean> {
    const port = SECURE_PORTS[name];
    if (port !== undefined) return httpsProbe(`https://${this.host.address}:${port}/healthz`, {}, 2_000);
    const client = this.probeClient();
    if (!client) return Promise.resolve(false);
    return httpsProbe(`https://${this.host.address}:${spec.apiServerPort}/readyz`, { ca: spec.ca.crt, cert: client.crt, key: client.key }, 2_000);
  }

  /** Follows the API server's readiness (an etcd that hangs makes it unready) until the pods stop. */
  private async probeLoop(generation: number, spec: KubernetesSpec): Promise<void> {
    while (generation === this.generation) {
      await delay(2_000);
      if (generation !== this.generation) return;
      const ready = this.procs.get('kube-apiserver')?.running === true && (await this.probe('kube-apiserver', spec));
      if (generation === this.generation && ready !== this.ready) {
        this.ready = ready;
        this.onChange();
      }
    }
  }

  /**
   * Re-renders the pods from a changed config: each component whose image or flags changed restarts (its old
   * process stops, the new one starts and becomes ready) and gets the next config version. A config Talos would
   * refuse to render (a flag it manages in extraArgs) leaves the pods as they are and says why in the log.
   */
  async reconfigure(spec: KubernetesSpec): Promise<void> {
    if (!spec.controlPlane || !this.secrets || !this.running.size) return;
    const generation = this.generation;
    for (const name of COMPONENTS) {
      const pod = this.running.get(name);
      let args: string[];
      try {
        args = componentArgs(name, spec, { address: this.host.address, etcdClientUrl: this.host.etcdClientUrl }, this.secrets, this.timings);
      } catch (err) {
        this.log(`static pod ${name} not re-rendered: ${(err as Error).message}`);
        continue;
      }
      if (!pod || this.sameRendering(pod, spec.controlPlane.components[name], args)) continue;
      this.log(`static pod ${name} changed: restarting it with ${spec.controlPlane.components[name].image}`);
      if (name === 'kube-apiserver') this.ready = false;
      this.onChange();
      await this.procs.get(name)?.stop();
      if (generation !== this.generation) return;
      try {
        await this.startComponent(name, spec, generation);
      } catch (err) {
        if (generation !== this.generation) return;
        this.failure = (err as Error).message;
        this.running.delete(name);
        this.onChange();
        return;
      }
    }
  }

  /** Stops every pod (SIGTERM with a grace period when `clean`, else SIGKILL: power loss). */
  async stop(clean: boolean): Promise<void> {
    this.generation++;
    this.ready = false;
    const procs = [...this.procs.values()].filter((p) => p.running);
    this.procs.clear();
    this.running.clear();
    if (!procs.length) return;
    this.log(`stopping static pods: ${procs.map((p) => p.describe()).join(', ')}`);
    await Promise.all(procs.map((p) => (clean ? p.stop() : p.kill())));
    this.log('static pods stopped');
  }
}
