import { createPublicKey } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { issueCertificate, type CertificateAndKey } from '../../config/certs';
import { toNodePem } from '../../config/pem';
import type { KubernetesSpec } from './spec';

/** Talos issues its Kubernetes component certificates for a year and renews them long before; a boot re-issues them here. */
const CERT_TTL_MS = 365 * 24 * 3_600_000;

/** Where one control plane's Kubernetes secrets were written (Talos keeps them under /system/secrets/kubernetes). */
export interface ControlPlaneSecrets {
  caCrt: string;
  caKey: string;
  apiServerCrt: string;
  apiServerKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  encryptionConfig?: string;
  /** The aggregation layer: the front-proxy CA and the API server's client certificate from it. */
  aggregator?: { caCrt: string; clientCrt: string; clientKey: string };
  controllerManagerKubeconfig: string;
  schedulerKubeconfig: string;
}

/** Address `n` of an IPv4 service range: 1 is the `kubernetes` Service (10.96.0.1), 10 is kube-dns (10.96.0.10). */
export function nthServiceIp(cidr: string, n: number): string | undefined {
  const [base] = cidr.split('/');
  if (!base || isIP(base) !== 4) return undefined;
  const value = base.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0) + n;
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function kubernetesCa(spec: KubernetesSpec): CertificateAndKey {
  if (!spec.ca.key) throw new Error('the machine config carries no Kubernetes CA key (cluster.ca.key): only control planes can issue Kubernetes certificates');
  return { crt: spec.ca.crt, key: spec.ca.key };
}

/** A client certificate from the cluster's Kubernetes CA: `commonName` is the user, `organizations` its groups. */
export function issueKubernetesClient(spec: KubernetesSpec, commonName: string, organizations: string[] = []): Promise<CertificateAndKey> {
  return issueCertificate(kubernetesCa(spec), { commonName, organizations, usage: 'client', ttlMs: CERT_TTL_MS });
}

/** A kubeconfig with one cluster, one user (a client certificate) and one context, as kubectl reads it. */
export function kubeconfigText(opts: { clusterName: string; server: string; caCrt: string; user: string; client: CertificateAndKey }): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const context = `${opts.user}@${opts.clusterName}`;
  return stringifyYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: opts.clusterName, cluster: { server: opts.server, 'certificate-authority-data': b64(opts.caCrt) } }],
    users: [{ name: context, user: { 'client-certificate-data': b64(opts.client.crt), 'client-key-data': b64(opts.client.key) } }],
    contexts: [{ name: context, context: { cluster: opts.clusterName, user: context } }],
    'current-context': context,
  });
}

/** kube-apiserver's encryption at rest, as Talos configures it (secretbox for Secrets unless the config says more). */
function encryptionConfigYaml(resources: unknown[]): string {
  return stringifyYaml({ apiVersion: 'apiserver.config.k8s.io/v1', kind: 'EncryptionConfiguration', resources });
}

/**
 * Issues and writes what one control plane's static pods need, from the cluster's Kubernetes CA and the
 * service-account key in its machine config: the API server's serving certificate (the endpoint's host, the node's
 * address and hostname, the in-cluster names, localhost), and kubeconfigs for the controller manager and the
 * scheduler that point at this node's own API server, as Talos's do.
 */
export async function writeControlPlaneSecrets(spec: KubernetesSpec, node: { address: string; hostname: string }, dir: string): Promise<ControlPlaneSecrets> {
  const cp = spec.controlPlane;
  if (!cp) throw new Error('not a control plane configuration: it has no Kubernetes CA key or service-account key');
  const ca = kubernetesCa(spec);
  const sans = [...cp.apiServerCertSans, node.address, node.hostname, '127.0.0.1', 'localhost', ...spec.serviceSubnets.map((cidr) => nthServiceIp(cidr, 1)).filter((ip): ip is string => !!ip)];
  const inCluster = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${spec.dnsDomain}`];
  const unique = [...new Set([...sans, ...inCluster])];
  const server = `https://${node.address}:${spec.apiServerPort}`;
  const [apiServer, controllerManager, scheduler] = await Promise.all([
    issueCertificate(ca, { commonName: 'kube-apiserver', organizations: ['kube-master'], ipAddresses: unique.filter((s) => isIP(s)), dnsNames: unique.filter((s) => !isIP(s)), usage: 'server', ttlMs: CERT_TTL_MS }),
    issueKubernetesClient(spec, 'system:kube-controller-manager'),
    issueKubernetesClient(spec, 'system:kube-scheduler'),
  ]);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const saPem = toNodePem(cp.serviceAccountKey);
  const frontProxy = cp.aggregatorCa && (await issueCertificate(cp.aggregatorCa, { commonName: 'front-proxy-client', usage: 'client', ttlMs: CERT_TTL_MS }));
  return {
    caCrt: write('ca.crt', ca.crt),
    caKey: write('ca.key', toNodePem(ca.key)),
    apiServerCrt: write('apiserver.crt', apiServer.crt),
    apiServerKey: write('apiserver.key', toNodePem(apiServer.key)),
    serviceAccountKey: write('service-account.key', saPem),
    serviceAccountPub: write('service-account.pub', createPublicKey(saPem).export({ type: 'spki', format: 'pem' }).toString()),
    ...(frontProxy
      ? { aggregator: { caCrt: write('aggregator-ca.crt', cp.aggregatorCa!.crt), clientCrt: write('front-proxy-client.crt', frontProxy.crt), clientKey: write('front-proxy-client.key', toNodePem(frontProxy.key)) } }
      : {}),
    ...(cp.encryption ? { encryptionConfig: write('encryptionconfig.yaml', encryptionConfigYaml(cp.encryption)) } : {}),
    controllerManagerKubeconfig: write('kube-controller-manager.kubeconfig', kubeconfigText({ clusterName: spec.clusterName, server, caCrt: ca.crt, user: 'system:kube-controller-manager', client: controllerManager })),
    schedulerKubeconfig: write('kube-scheduler.kubeconfig', kubeconfigText({ clusterName: spec.clusterName, server, caCrt: ca.crt, user: 'system:kube-scheduler', client: scheduler })),
  };
}
