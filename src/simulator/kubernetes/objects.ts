import { createHash } from 'node:crypto';
import type { KubeObject } from './api';
import type { KubernetesSpec } from './spec';
import type { RunningStaticPod } from './static-pods';

/** The label by which the cluster's kwok knows which Nodes have a running kubelet: it manages exactly those. */
export const KUBELET_RUNNING_LABEL = 'talos-fleet.dev/simulated-kubelet';

/** Talos marks a node it cordoned itself, and uncordons it after the boot only when this annotation is there. */
export const TALOS_CORDONED_ANNOTATION = 'talos.dev/cordoned';

/** A Node as the simulator reads it. */
export interface NodeObject extends KubeObject {
  spec?: { unschedulable?: boolean; taints?: { key: string; effect: string }[] };
  status?: {
    conditions?: { type: string; status: string }[];
    nodeInfo?: { kubeletVersion?: string; bootID?: string; osImage?: string };
    addresses?: { type: string; address: string }[];
  };
}

/** A Pod as the simulator reads it. */
export interface PodObject extends KubeObject {
  spec: { nodeName?: string; containers: { name: string; image: string; command?: string[] }[]; [field: string]: unknown };
  status?: PodStatus;
}

/** The part of a Pod's status the simulator writes and reads. */
export interface PodStatus {
  phase?: string;
  conditions?: { type: string; status: string; lastTransitionTime?: string }[];
  hostIP?: string;
  podIP?: string;
  startTime?: string;
  containerStatuses?: { name: string; image: string; ready: boolean; started?: boolean; restartCount: number; state?: { running?: { startedAt?: string } } }[];
}

/** What a simulated node tells its Node object: who it is, what it runs, how it booted. */
export interface NodeFacts {
  hostname: string;
  address: string;
  controlPlane: boolean;
  talosVersion: string;
  bootId: string;
  machineId: string;
  /** The version of the kubelet that runs now (it changes only once a new kubelet image has restarted it). */
  kubeletVersion: string;
}

/** True when the Node's Ready condition is True. */
export function nodeIsReady(node: NodeObject | undefined): boolean {
  return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/** The labels Talos and the kubelet put on a Node, and the simulator's kubelet label. */
export function nodeLabels(facts: NodeFacts, spec: KubernetesSpec): Record<string, string> {
  return {
    'beta.kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': facts.hostname,
    'kubernetes.io/os': 'linux',
    ...(facts.controlPlane ? { 'node-role.kubernetes.io/control-plane': '' } : {}),
    ...spec.nodeLabels,
    [KUBELET_RUNNING_LABEL]: 'true',
  };
}

/** The node's status fields that follow its boot and its kubelet image. */
export function nodeInfo(facts: NodeFacts): Record<string, string> {
  return {
    architecture: 'amd64',
    bootID: facts.bootId,
    containerRuntimeVersion: 'containerd://2.0.5',
    kernelVersion: '6.12.25-talos',
    kubeProxyVersion: facts.kubeletVersion,
    kubeletVersion: facts.kubeletVersion,
    machineID: facts.machineId,
    operatingSystem: 'linux',
    osImage: `Talos (${facts.talosVersion})`,
    systemUUID: facts.machineId,
  };
}

/** The Node a kubelet registers: addresses, capacity, version, role labels, and the control-plane taint. */
export function nodeObject(facts: NodeFacts, spec: KubernetesSpec): NodeObject {
  const capacity = { cpu: '2', memory: facts.controlPlane ? '4Gi' : '2Gi', pods: '110', 'ephemeral-storage': '10Gi' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: facts.hostname, labels: nodeLabels(facts, spec), annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' } },
    spec: spec.nodeTaints.length ? { taints: spec.nodeTaints } : {},
    status: {
      addresses: [
        { type: 'InternalIP', address: facts.address },
        { type: 'Hostname', address: facts.hostname },
      ],
      capacity,
      allocatable: capacity,
      nodeInfo: nodeInfo(facts),
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    } as NodeObject['status'],
  };
}

/** The annotation value Talos's upgrade-k8s waits for on a re-rendered static pod. */
export const CONFIG_VERSION_ANNOTATION = 'talos.dev/config-version';

/** The mirror pod a kubelet posts for a static pod: `kube-apiserver-cp-1` in kube-system, owned by its Node. */
export function mirrorPod(pod: RunningStaticPod, node: { hostname: string; uid?: string }): PodObject {
  const hash = createHash('sha256').update(JSON.stringify([pod.image, pod.args, pod.configVersion])).digest('hex').slice(0, 32);
  const version = pod.image.split(':').pop()?.replace(/^v/, '') ?? '';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${pod.name}-${node.hostname}`,
      namespace: 'kube-system',
      labels: {
        'app.kubernetes.io/component': 'control-plane',
        'app.kubernetes.io/managed-by': 'Talos',
        'app.kubernetes.io/name': pod.name,
        'app.kubernetes.io/version': version,
        component: pod.name,
        'k8s-app': pod.name,
        tier: 'control-plane',
      },
      annotations: {
        'kubernetes.io/config.hash': hash,
        'kubernetes.io/config.mirror': hash,
        'kubernetes.io/config.source': 'file',
        [CONFIG_VERSION_ANNOTATION]: String(pod.configVersion),
        'talos.dev/secrets-version': '1',
      },
      ...(node.uid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node.hostname, uid: node.uid, controller: true }] } : {}),
    },
    spec: {
      nodeName: node.hostname,
      containers: [{ name: pod.name, image: pod.image, command: [`/usr/local/bin/${pod.name}`, ...pod.args] }],
      hostNetwork: true,
      priorityClassName: 'system-cluster-critical',
      tolerations: [{ operator: 'Exists', effect: 'NoExecute' }],
    },
  };
}

/**
 * The status a kubelet posts for a static pod: Running on the host's network, Ready while the component is, its
 * container started when the process did. The simulator writes it itself (the kubelet owns its static pods; kwok's
 * stages leave mirror pods alone), so the mirror pods tell the truth about the real processes.
 */
export function mirrorPodStatus(pod: RunningStaticPod, address: string): PodStatus {
  const ready = pod.ready ? 'True' : 'False';
  return {
    phase: 'Running',
    conditions: [
      { type: 'PodReadyToStartContainers', status: 'True', lastTransitionTime: pod.startedAt },
      { type: 'Initialized', status: 'True', lastTransitionTime: pod.startedAt },
      { type: 'Ready', status: ready },
      { type: 'ContainersReady', status: ready },
      { type: 'PodScheduled', status: 'True', lastTransitionTime: pod.startedAt },
    ],
    hostIP: address,
    podIP: address,
    startTime: pod.startedAt,
    containerStatuses: [{ name: pod.name, image: pod.image, ready: pod.ready, started: true, restartCount: 0, state: { running: { startedAt: pod.startedAt } } }],
  };
}

/** True when a mirror pod's status already says what `want` says (phase, readiness, address, container start). */
export function sameMirrorStatus(have: PodStatus | undefined, want: PodStatus): boolean {
  const readiness = (s: PodStatus | undefined) => s?.conditions?.find((c) => c.type === 'Ready')?.status;
  const started = (s: PodStatus | undefined) => s?.containerStatuses?.[0]?.state?.running?.startedAt;
  return have?.phase === want.phase && readiness(have) === readiness(want) && have?.podIP === want.podIP && started(have) === started(want);
}
