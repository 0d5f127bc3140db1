import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CertificateAndKey } from '../../config/certs';
import type { SimulatedNode } from '../node';
import type { SimClock } from '../timing';
import { KubernetesApi, KubernetesApiError, type KubeObject } from './api';
import type { KubernetesTimings } from './args';
import { bootstrapManifests, collectionPath } from './manifests';
import { talosNodeDrain } from './node-drain';
import { CONFIG_VERSION_ANNOTATION, KUBELET_RUNNING_LABEL, mirrorPod, mirrorPodStatus, nodeInfo, nodeIsReady, nodeLabels, nodeObject, sameMirrorStatus, TALOS_CORDONED_ANNOTATION, type NodeFacts, type NodeObject, type PodObject } from './objects';
import { issueKubernetesClient, kubeconfigText } from './pki';
import { ApiServerProxy } from './prism';
import { ComponentProcess } from './process';
import { keptKwokStages, podStages } from './stages';
import { ControlPlanePods, type ControlPlaneBinaries } from './static-pods';
import { kubernetesSpec, type KubernetesSpec } from './spec';

/** The real programs a simulated cluster runs. */
export interface KubernetesTools extends ControlPlaneBinaries {
  kwok: string;
  /** kwok's provisioned stage files. */
  kwokStages: string[];
}

/** A container start takes about a second on a real node; the simulated kubelets take that, scaled. */
const CONTAINER_START_MS = 1_000;

/** The Kubernetes side of a simulated node's config, or undefined while it has none. */
function specOf(node: SimulatedNode): KubernetesSpec | undefined {
  return node.config ? kubernetesSpec(node.config.parsed) : undefined;
}

function factsOf(node: SimulatedNode, kubeletVersion: string): NodeFacts {
  return {
    kubeletVersion,
    hostname: node.hostname,
    address: node.spec.address,
    controlPlane: node.role === 'controlplane',
    talosVersion: node.version,
    bootId: node.bootId,
    machineId: createHash('sha256').update(node.name).digest('hex').slice(0, 32),
  };
}

/**
 * The Kubernetes of one simulated cluster: each control plane's static pods (real kube-apiserver, controller manager
 * and scheduler on its etcd member), one kwok standing in for every node's kubelet (it manages the Nodes labelled
 * with {@link KUBELET_RUNNING_LABEL}, and the pods bound to them), and a reconciler that keeps the API in step
 * with the simulated machines: Node registration and versions, mirror pods, kubelet up or down, Talos's uncordon,
 * the bootstrap manifests. Node readiness flows back to the simulated nodes from a watch.
 */
export class KubernetesCluster {
  private readonly pods = new Map<SimulatedNode, ControlPlanePods>();
  /** The nodes whose kubelet runs, and the kubelet version each runs. */
  private readonly kubelets = new Map<SimulatedNode, string>();
  private readonly nodes = new Map<string, NodeObject>();
  private readonly mirrors = new Map<string, PodObject>();
  private api?: KubernetesApi;
  private client?: CertificateAndKey;
  private issuing?: Promise<void>;
  private watches?: AbortController;
  private prism?: ApiServerProxy;
  private prismUrl?: string;
  private kwok?: ComponentProcess;
  private manifestsPending = false;
  private serviceAccountsReady = false;
  private dirty = false;
  private running?: Promise<void>;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;

  constructor(
    readonly id: string,
    private readonly dir: string,
    private readonly tools: KubernetesTools,
    private readonly timings: KubernetesTimings,
    private readonly clock: SimClock,
    /** The fleet's nodes of this cluster, now. */
    private readonly members: () => SimulatedNode[],
  ) {
    // Level-triggered: besides every event, look again each second (a node's stage, a failed call to retry).
    this.timer = setInterval(() => this.poke(), 1_000);
    this.timer.unref();
  }

  /** `https://addr:port` of the control planes whose API server is ready. */
  apiServers(): string[] {
    return this.members().flatMap((n) => {
      const spec = this.pods.get(n)?.apiServerReady ? specOf(n) : undefined;
      return spec ? [`https://${n.spec.address}:${spec.apiServerPort}`] : [];
    });
  }

  /** The simulator's client of this cluster's API, once some control plane's config has given it credentials. */
  get apiClient(): KubernetesApi | undefined {
    return this.api;
  }

  /** The static pods of a control plane, if it runs any. */
  staticPods(node: SimulatedNode): ControlPlanePods | undefined {
    return this.pods.get(node);
  }

  /**
   * True once the cluster is ready for workloads: every control plane runs its three static pods, the bootstrap
   * manifests are applied, and the controller manager has created the `default` ServiceAccount (pods are refused
   * without it).
   */
  get settled(): boolean {
    const controlPlanes = this.members().filter((n) => n.role === 'controlplane');
    return this.serviceAccountsReady && !this.manifestsPending && controlPlanes.every((n) => this.pods.get(n)?.pods().length === 3);
  }

  /** Why a node's Kubernetes side cannot come up (its API server never became ready), if it cannot. */
  failure(node: SimulatedNode): string | undefined {
    return this.pods.get(node)?.failure;
  }

  // --- The machines' side ----------------------------------------------------------------------------

  /** The node's kubelet runs: it registers its Node and, on a control plane, runs the static pods once etcd is healthy. */
  kubeletStarted(node: SimulatedNode): void {
    this.kubelets.set(node, specOf(node)?.kubeletVersion ?? '');
    this.credentials(node).catch((err: Error) => node.log('kubelet', `kubernetes: cannot issue the simulator's client certificate: ${err.message}`));
    if (node.role === 'controlplane') {
      let pods = this.pods.get(node);
      if (!pods) {
        pods = new ControlPlanePods(
          { name: node.name, hostname: node.hostname, address: node.spec.address, dir: node.spec.dir, etcdClientUrl: node.etcd?.process.clientUrl ?? '', etcdHealthy: () => node.etcd?.healthy === true },
          this.tools,
          this.timings,
          () => this.client,
          () => this.staticPodsChanged(node),
          (line) => node.log('kubelet', line),
        );
        this.pods.set(node, pods);
      }
      void pods.start(() => specOf(node));
    }
    this.poke();
  }

  /** The node's kubelet stops (reboot, upgrade, power loss): its static pods stop with it and kwok lets its Node go. */
  async kubeletStopped(node: SimulatedNode, clean: boolean): Promise<void> {
    if (!this.kubelets.has(node) && !this.pods.has(node)) return;
    this.kubelets.delete(node);
    node.observeKubernetesNode({ ready: false, cordoned: this.nodes.get(node.hostname)?.spec?.unschedulable === true });
    await this.pods.get(node)?.stop(clean);
    this.poke();
  }

  /** A config applied without a reboot: changed static pods are re-rendered, a new kubelet image restarts the kubelet. */
  async configApplied(node: SimulatedNode, previous: KubernetesSpec | undefined): Promise<void> {
    const spec = specOf(node);
    if (!spec || !this.kubelets.has(node)) return;
    if (previous && previous.kubeletImage !== spec.kubeletImage) {
      node.services.transition('kubelet', 'Finished', 'Service finished successfully');
      await this.clock.sleep(this.clock.timings.kubeletReadyMs);
      if (!this.kubelets.has(node)) return;
      node.services.transition('kubelet', 'Running', 'Service started as goroutine');
      node.services.setHealth('kubelet', true);
      this.kubelets.set(node, spec.kubeletVersion);
    }
    await this.pods.get(node)?.reconfigure(spec);
    this.poke();
  }

  /** The drain of Talos's own (legacy) upgrade sequence, through the API. */
  async drain(node: SimulatedNode, signal: AbortSignal): Promise<void> {
    const api = this.api;
    if (!api) return;
    const timings = { retryMs: Math.max(50, this.clock.real(5_000)), capMs: Math.max(30_000, this.clock.real(5 * 60_000)) };
    await talosNodeDrain(api, node.hostname, timings, signal, (line) => node.log('machined', line));
  }

  private staticPodsChanged(node: SimulatedNode): void {
    if (this.pods.get(node)?.apiServerReady) this.manifestsPending = true;
    this.poke();
  }

  /** Issues the simulator's own client certificate from a control plane's Kubernetes CA (once). */
  private credentials(node: SimulatedNode): Promise<void> {
    if (this.client || this.issuing) return this.issuing ?? Promise.resolve();
    const spec = specOf(node);
    if (!spec?.ca.key) return Promise.resolve();
    this.issuing = issueKubernetesClient(spec, 'talos-fleet-simulator', ['system:masters'])
      .then((client) => {
        this.client = client;
        this.api = new KubernetesApi(() => this.apiServers(), spec.ca.crt, client);
        this.poke();
      })
      .finally(() => (this.issuing = undefined));
    return this.issuing;
  }

  // --- The API's side ----------------------------------------------------------------------------------

  /** Asks for a reconcile; runs are never concurrent, and a request during one runs it again after. */
  poke(): void {
    if (this.stopped) return;
    this.dirty = true;
    if (this.running) return;
    this.running = (async () => {
      while (this.dirty && !this.stopped) {
        this.dirty = false;
        await this.reconcile();
      }
    })().finally(() => (this.running = undefined));
  }

  /** A step that failed is logged on the node (an API server that is away for now is not news) and tried again. */
  private failed(node: SimulatedNode | undefined, log: string, err: unknown): void {
    if (!(err instanceof KubernetesApiError && err.status >= 500)) node?.log(log, `kubernetes: ${(err as Error).message}`);
    this.dirty = true;
  }

  private async reconcile(): Promise<void> {
    const api = this.api;
    if (!api || !this.apiServers().length) return;
    const firstControlPlane = this.members().find((n) => n.role === 'controlplane');
    this.startWatches(api);
    await this.ensureKwok().catch((err: unknown) => this.failed(firstControlPlane, 'kubelet', err));
    if (this.manifestsPending) await this.applyManifests(api).catch((err: unknown) => this.failed(firstControlPlane, 'machined', err));
    if (!this.serviceAccountsReady) {
      this.serviceAccountsReady = (await api.find('/api/v1/namespaces/default/serviceaccounts/default').catch(() => undefined)) !== undefined;
      if (!this.serviceAccountsReady) this.dirty = true;
    }
    for (const node of this.members()) {
      try {
        await this.reconcileNode(api, node);
      } catch (err) {
        this.failed(node, 'kubelet', err);
      }
    }
  }

  private async reconcileNode(api: KubernetesApi, node: SimulatedNode): Promise<void> {
    const spec = specOf(node);
    if (!spec) return;
    const observed = this.nodes.get(node.hostname);
    const kubeletVersion = this.kubelets.get(node);
    if (kubeletVersion === undefined) {
      if (observed?.metadata.labels?.[KUBELET_RUNNING_LABEL]) await api.mergePatch(`/api/v1/nodes/${node.hostname}`, { metadata: { labels: { [KUBELET_RUNNING_LABEL]: null } } });
      return;
    }
    const facts = factsOf(node, kubeletVersion);
    if (!observed) {
      await api.create('/api/v1/nodes', nodeObject(facts, spec)).catch((err: unknown) => {
        if (!(err instanceof KubernetesApiError && err.status === 409)) throw err;
      });
      return;
    }
    const labels = nodeLabels(facts, spec);
    if (Object.entries(labels).some(([k, v]) => observed.metadata.labels?.[k] !== v)) await api.mergePatch(`/api/v1/nodes/${node.hostname}`, { metadata: { labels } });
    const info = nodeInfo(facts);
    const current = observed.status?.nodeInfo;
    if (current?.kubeletVersion !== info.kubeletVersion || current?.bootID !== info.bootID || current?.osImage !== info.osImage) {
      await api.mergePatch(`/api/v1/nodes/${node.hostname}/status`, { status: { nodeInfo: info } });
    }
    // After a boot that ended an upgrade or reset, Talos uncordons the node, but only a cordon of its own.
    if (observed.metadata.annotations?.[TALOS_CORDONED_ANNOTATION] === 'true' && node.stage === 'RUNNING' && !node.sequence && nodeIsReady(observed)) {
      await api.mergePatch(`/api/v1/nodes/${node.hostname}`, { metadata: { annotations: { [TALOS_CORDONED_ANNOTATION]: null } }, spec: { unschedulable: false } });
    }
    for (const pod of this.pods.get(node)?.pods() ?? []) {
      const want = mirrorPod(pod, { hostname: node.hostname, uid: observed.metadata.uid });
      const have = this.mirrors.get(want.metadata.name);
      const path = `/api/v1/namespaces/kube-system/pods/${want.metadata.name}`;
      if (have && have.spec.containers[0]?.image === pod.image && have.metadata.annotations?.[CONFIG_VERSION_ANNOTATION] === String(pod.configVersion)) {
        // The kubelet keeps its static pods' status true: posted once the mirror pod exists, and again whenever
        // someone else changed it (the node controller marks the pods of an unreachable node not Ready).
        const status = mirrorPodStatus(pod, node.spec.address);
        if (!sameMirrorStatus(have.status, status)) await api.mergePatch(`${path}/status`, { status });
        continue;
      }
      node.log('kubelet', have ? `replacing mirror pod ${want.metadata.name} (${have.spec.containers[0]?.image}, config version ${have.metadata.annotations?.[CONFIG_VERSION_ANNOTATION]} → ${pod.image}, ${pod.configVersion})` : `creating mirror pod ${want.metadata.name}`);
      if (have) await api.delete(path, 0);
      await api.create('/api/v1/namespaces/kube-system/pods', want).catch((err: unknown) => {
        if (!(err instanceof KubernetesApiError && err.status === 409)) throw err;
      });
    }
  }

  /** Talos applies its bootstrap manifests whenever an API server comes up; objects that exist are left as they are. */
  private async applyManifests(api: KubernetesApi): Promise<void> {
    const cp = this.members().find((n) => n.role === 'controlplane' && specOf(n)?.controlPlane);
    const spec = cp && specOf(cp);
    if (!spec) return;
    for (const object of bootstrapManifests(spec, cp.config?.parsed.cluster.token)) {
      const collection = collectionPath(object);
      if (await api.find(`${collection}/${object.metadata.name}`)) continue;
      await api.create(collection, object).catch((err: unknown) => {
        if (!(err instanceof KubernetesApiError && err.status === 409)) throw err;
      });
    }
    this.manifestsPending = false;
  }

  private startWatches(api: KubernetesApi): void {
    if (this.watches) return;
    this.watches = new AbortController();
    const signal = this.watches.signal;
    const follow = <T extends KubeObject>(path: string, into: Map<string, T>, after: () => void) =>
      void api.watch<T>(
        path,
        {
          onSync: (items) => {
            into.clear();
            for (const o of items) into.set(o.metadata.name, o);
            after();
          },
          onEvent: (e) => {
            if (e.type === 'DELETED') into.delete(e.object.metadata.name);
            else into.set(e.object.metadata.name, e.object);
            after();
          },
        },
        signal,
      );
    follow<NodeObject>('/api/v1/nodes', this.nodes, () => {
      this.reportReadiness();
      this.poke();
    });
    follow<PodObject>(`/api/v1/namespaces/kube-system/pods?labelSelector=${encodeURIComponent('tier=control-plane')}`, this.mirrors, () => this.poke());
  }

  /** Node readiness from the API, for the machines whose kubelet runs (MachineStatus's nodeReady condition). */
  private reportReadiness(): void {
    for (const node of this.members()) {
      const observed = this.nodes.get(node.hostname);
      node.observeKubernetesNode({ ready: this.kubelets.has(node) && nodeIsReady(observed), cordoned: observed?.spec?.unschedulable === true });
    }
  }

  /** One kwok for the cluster, reaching the API servers through a KubePrism-like proxy; restarted if it exits. */
  private async ensureKwok(): Promise<void> {
    if (this.kwok?.running || !this.client) return;
    const cp = this.members().find((n) => specOf(n)?.ca.key);
    const spec = cp && specOf(cp);
    if (!spec) return;
    if (!this.prism) {
      this.prism = new ApiServerProxy(() => this.apiServers().map((url) => url.replace(/^https:\/\//, '')));
      this.prismUrl = await this.prism.listen();
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const kubeconfig = join(this.dir, 'kwok.kubeconfig');
    writeFileSync(kubeconfig, kubeconfigText({ clusterName: spec.clusterName, server: this.prismUrl!, caCrt: spec.ca.crt, user: 'talos-fleet-simulator', client: this.client }), { mode: 0o600 });
    const stages = join(this.dir, 'kwok-pod-stages.yaml');
    writeFileSync(stages, podStages(this.clock.real(CONTAINER_START_MS), this.clock.timeScale));
    const previous = this.kwok?.exited();
    if (previous) cp.log('kubelet', `kwok exited (${await previous}); starting it again`);
    this.kwok = new ComponentProcess({
      name: 'kwok',
      binary: this.tools.kwok,
      args: [
        `--kubeconfig=${kubeconfig}`,
        '--manage-all-nodes=false',
        // A label, not an annotation: kwok watches Nodes with it server-side, so taking the label away ends the
        // management at once (a Node that stops matching an annotation selector stays managed).
        `--manage-nodes-with-label-selector=${KUBELET_RUNNING_LABEL}=true`,
        `--node-lease-duration-seconds=${this.timings.nodeLeaseSeconds}`,
        `--cidr=${spec.podSubnets[0]}`,
        '--server-address=',
        '-c',
        [...keptKwokStages(this.tools.kwokStages), stages].join(','),
      ],
      logFile: join(this.dir, 'kwok.log'),
      readyTimeoutMs: 10_000,
      ready: async () => true,
    });
    await this.kwok.start();
  }

  /** Stops kwok, the proxy and the watches (the static pods stop with their nodes). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.watches?.abort();
    await this.running;
    await this.kwok?.stop();
    await this.prism?.close();
    this.api?.close();
  }
}
