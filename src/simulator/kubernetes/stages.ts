import { basename } from 'node:path';

/** A pod annotated with this (`2s`: a Go duration, in real time) has containers that take that long to start. */
export const START_DELAY_ANNOTATION = 'pod-ready.stage.kwok.x-k8s.io/delay';

/**
 * kwok's pod stages for the simulated kubelets, written for the fleet's time scale. kwok's own "fast" pod stages
 * (provisioned beside kwok) jump from Pending to Ready at once and delete a terminating pod at once; a kubelet
 * reports ContainerCreating first, and keeps a terminating pod until its containers stopped, at the end of its grace
 * period here (a container that ignores SIGTERM), which drains and PodDisruptionBudgets depend on. A kubelet also
 * reports its running pods Ready again once it reaches the API after the node controller marked them not Ready
 * (its Node had stopped renewing its lease); kwok alone leaves them not Ready for good (kubernetes-sigs/kwok#1464).
 * Mirror pods are left alone: the simulator posts their status from the real processes. The node stages
 * (initialize, heartbeat with a lease) are kwok's own.
 */
export function podStages(containerStartMs: number, timeScale: number): string {
  const stage = (name: string, selector: string, next: string, delay = '') =>
    `apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata:\n  name: ${name}\nspec:\n  resourceRef:\n    apiGroup: v1\n    kind: Pod\n  selector:\n    matchExpressions:\n${selector}${delay}  next:\n${next}`;
  // Pods that are not being deleted and are not mirror pods (the simulator posts those itself).
  const live = `    - key: '.metadata.deletionTimestamp'\n      operator: 'DoesNotExist'\n    - key: '.metadata.annotations["kubernetes.io/config.mirror"]'\n      operator: 'DoesNotExist'\n`;
  const notReady = `    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'\n      operator: 'In'\n      values:\n      - 'False'\n`;
  // kwok's own annotation (a Go duration, real time) lets a pod's containers take longer to start than the default.
  const startDelay = `  delay:\n    durationMilliseconds: ${Math.max(0, Math.round(containerStartMs))}\n    durationFrom:\n      expressionFrom: '.metadata.annotations["${START_DELAY_ANNOTATION}"]'\n`;
  const created = stage(
    'pod-create',
    `${live}    - key: '.status.podIP'\n      operator: 'DoesNotExist'\n`,
    `    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          waiting:
            reason: ContainerCreating
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
      phase: Pending
`,
  );
  const running = stage(
    'pod-ready',
    `${live}    - key: '.status.phase'\n      operator: 'In'\n      values:\n      - 'Pending'\n    - key: '.status.podIP'\n      operator: 'Exists'\n`,
    `    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        started: true
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        state:
          terminated:
            exitCode: 0
            reason: Completed
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
`,
    startDelay,
  );
  // A running pod the node controller marked not Ready: its containers ran on, and are reported Ready again.
  const readyAgain = stage(
    'pod-ready-again',
    `${live}    - key: '.status.phase'\n      operator: 'In'\n      values:\n      - 'Running'\n${notReady}`,
    `    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: ContainersReady
`,
    startDelay,
  );
  // The deletion timestamp is the time of the delete plus the grace period. The containers stop when the grace
  // period is over in simulated time, as every simulated duration follows the time scale: what is left of it, scaled.
  const untilStopped = `((((.metadata.deletionTimestamp | fromdate) - now) * ${timeScale * 1000} | floor) as $ms | if $ms > 0 then $ms else 0 end | tostring) + "ms"`;
  const deleted = stage(
    'pod-delete',
    `    - key: '.metadata.deletionTimestamp'\n      operator: 'Exists'\n`,
    `    delete: true\n`,
    `  delay:\n    durationMilliseconds: 0\n    durationFrom:\n      expressionFrom: '${untilStopped}'\n`,
  );
  return [created, running, readyAgain, deleted].join('---\n');
}

/** The provisioned stage files the simulator keeps: kwok's node stages and its Job completion; the other pod stages are ours. */
export function keptKwokStages(files: string[]): string[] {
  return files.filter((f) => /^node-|^pod-complete/.test(basename(f)));
}
