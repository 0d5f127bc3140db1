import { stringify as stringifyYaml } from 'yaml';
import { EMPTY_SCHEMATIC, IMAGE_FACTORY, parseInstallerImage } from '../../releases/images';
import { messageCodec } from '../../talos/codec';
import type { SimulatedNode } from '../node';

/** One resource as cosi.ts serves it. */
export interface SimResource {
  namespace: string;
  id: string;
  protoSpec: Buffer;
  yamlSpec: string;
}

const R = 'talos.resource.definitions.runtime.';
const K = 'talos.resource.definitions.k8s.';

function resource(namespace: string, id: string, specType: string, spec: Record<string, unknown>, yaml: Record<string, unknown> = spec): SimResource {
  return { namespace, id, protoSpec: messageCodec(specType).encode(spec), yamlSpec: stringifyYaml(yaml) };
}

/** google.protobuf.Struct from a plain object of strings, booleans and nested objects. */
function toStruct(value: Record<string, unknown>): { fields: Record<string, unknown> } {
  const v = (x: unknown): unknown =>
    typeof x === 'string' ? { stringValue: x } : typeof x === 'boolean' ? { boolValue: x } : typeof x === 'number' ? { numberValue: x } : Array.isArray(x) ? { listValue: { values: x.map(v) } } : { structValue: toStruct(x as Record<string, unknown>) };
  return { fields: Object.fromEntries(Object.entries(value).map(([k, x]) => [k, v(x)])) };
}

/** The control-plane static pods a running control plane reports (kubelet up, etcd behind the API server). */
function staticPods(node: SimulatedNode): SimResource[] {
  if (node.role !== 'controlplane' || !node.kubernetes.kubeletReady) return [];
  const running = !!node.etcd?.healthy;
  return ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((name) =>
    resource('k8s', `kube-system/${name}-${node.hostname}`, `${K}StaticPodStatusSpec`, { podStatus: toStruct({ phase: running ? 'Running' : 'Pending', conditions: [{ type: 'Ready', status: running ? 'True' : 'False' }] }) }, { phase: running ? 'Running' : 'Pending' }),
  );
}

/** The Image Factory schematic of the installed image (the empty one when the node was not installed from the factory). */
function schematic(node: SimulatedNode): SimResource[] {
  const image = parseInstallerImage(node.config?.parsed.machine.install.image ?? '');
  const id = image?.schematic ?? EMPTY_SCHEMATIC;
  return [resource('runtime', 'image-factory-schematic', `${R}ImageFactorySchematicSpec`, { schematicId: id, flavor: image?.platform ?? 'metal', apiurl: `https://${image?.form === 'installer' ? IMAGE_FACTORY : (image?.registry ?? IMAGE_FACTORY)}` })];
}

/** apid's serving mode: in 1.13+ maintenance, node routing off, every caller a reader, client certificates not verified. */
function apiServiceConfig(node: SimulatedNode): SimResource[] {
  const maintenance = node.inMaintenance;
  return [
    resource('runtime', 'apid', `${R}APIServiceConfigSpec`, {
      listenAddress: `${node.spec.address}:${node.spec.port}`,
      nodeRoutingDisabled: maintenance,
      readonlyRoleMode: maintenance,
      skipVerifyingClientCert: maintenance,
    }),
  ];
}

/** The COSI resources whose types only some Talos versions register (cosi.ts checks the profile's list first). */
export function versionedResources(node: SimulatedNode, type: string): SimResource[] {
  switch (type) {
    case 'Versions.runtime.talos.dev':
      return [resource('runtime', 'version', `${R}VersionSpec`, { version: node.version, name: 'Talos' })];
    case 'BootIDs.runtime.talos.dev':
      return [resource('runtime', 'boot-id', `${R}BootIDSpec`, { bootId: node.bootId })];
    case 'Nodenames.kubernetes.talos.dev':
      return node.config ? [resource('k8s', 'nodename', `${K}NodenameSpec`, { nodename: node.hostname, hostnameVersion: '1', skipNodeRegistration: false })] : [];
    case 'StaticPodStatuses.kubernetes.talos.dev':
      return staticPods(node);
    case 'UnattendedInstallStatuses.runtime.talos.dev':
      return node.unattended ? [resource('runtime', 'unattended-install', `${R}UnattendedInstallStatusSpec`, { image: node.unattended.image, phase: `UNATTENDED_INSTALL_PHASE_${node.unattended.phase}`, error: node.unattended.error })] : [];
    case 'ImageFactorySchematics.runtime.talos.dev':
      return schematic(node);
    case 'APIServiceConfigs.runtime.talos.dev':
      return apiServiceConfig(node);
    default:
      return [];
  }
}
