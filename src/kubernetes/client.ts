import { AppsV1Api, CoreV1Api, KubeConfig, PolicyV1Api } from '@kubernetes/client-node';
import type { TalosApi } from '../talos/api';
import type { CallOptions, Target } from '../talos/connection';
import { FleetError } from '../errors';

/** The Kubernetes API groups the product uses, from one kubeconfig. */
export interface KubernetesClients {
  config: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  policy: PolicyV1Api;
}

/** Clients from a kubeconfig's text (its current context). The text holds a client key: never log it. */
export function kubernetesFromKubeconfig(kubeconfig: string): KubernetesClients {
  const config = new KubeConfig();
  try {
    config.loadFromString(kubeconfig);
  } catch (err) {
    throw new FleetError('bad_kubeconfig', `the kubeconfig cannot be read: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (!config.getCurrentCluster()) throw new FleetError('bad_kubeconfig', 'the kubeconfig names no cluster in its current context');
  return { config, core: config.makeApiClient(CoreV1Api), apps: config.makeApiClient(AppsV1Api), policy: config.makeApiClient(PolicyV1Api) };
}

/**
 * Clients for a Talos cluster's Kubernetes, from the admin kubeconfig a control plane mints through the Talos API
 * (`talosctl kubeconfig`; what talosctl 1.13+ does before a client-side drain). Works the same against the simulator.
 */
export async function kubernetesFromTalos(talos: Pick<TalosApi, 'kubeconfig'>, target?: Target, options?: CallOptions): Promise<KubernetesClients> {
  return kubernetesFromKubeconfig(await talos.kubeconfig(target, options));
}

/** The HTTP status of a failed Kubernetes API call (404, 409, 429, ...), or undefined when it never got an answer. */
export function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The Status message of a failed call, without the response headers client-node puts in its own message. */
export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown })?.body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      return body;
    }
  }
  return (err as Error).message?.split('\n')[0] ?? String(err);
}
