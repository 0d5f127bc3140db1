import { parseMachineConfig } from './machineconfig';
import { applyPatches, parseConfigDocuments, type ConfigDocument, type ConfigPatch } from './patches';
import { documentOfKind } from './multidoc';

/** A static route on a node interface. */
export interface NodeRoute {
  network: string;
  gateway?: string;
  metric?: number;
}

/** Static addressing for one interface. */
export interface NodeInterface {
  interface: string;
  addresses?: string[];
  routes?: NodeRoute[];
  dhcp?: boolean;
  mtu?: number;
}

/** Per-node settings that differ between machines of the same role. */
export interface NodeSettings {
  hostname?: string;
  installDisk?: string;
  interfaces?: NodeInterface[];
  nameservers?: string[];
}

/**
 * The settings as a strategic merge patch, so they combine with user patches by upstream's rules
 * (an interface named in both is merged, not duplicated).
 */
export function nodeSettingsPatch(settings: NodeSettings, source = 'node settings', roleDocuments: ConfigDocument[] = []): ConfigPatch {
  const network: Record<string, unknown> = {};
  // Where the contract moved a field to its own document (1.12 HostnameConfig, 1.14 UnattendedInstallConfig), patch that.
  const documents: ConfigDocument[] = [];
  if (settings.hostname && documentOfKind(roleDocuments, 'HostnameConfig')) documents.push({ apiVersion: 'v1alpha1', kind: 'HostnameConfig', auto: 'off', hostname: settings.hostname });
  else if (settings.hostname) network.hostname = settings.hostname;
  if (settings.interfaces && settings.interfaces.length > 0) {
    network.interfaces = settings.interfaces.map((i) => ({
      interface: i.interface,
      ...(i.addresses && i.addresses.length > 0 ? { addresses: i.addresses } : {}),
      ...(i.routes && i.routes.length > 0
        ? { routes: i.routes.map((r) => ({ network: r.network, gateway: r.gateway ?? '', ...(r.metric ? { metric: r.metric } : {}) })) }
        : {}),
      ...(i.dhcp !== undefined ? { dhcp: i.dhcp } : {}),
      ...(i.mtu ? { mtu: i.mtu } : {}),
    }));
  }
  if (settings.nameservers && settings.nameservers.length > 0) network.nameservers = settings.nameservers;
  const machine: Record<string, unknown> = {};
  if (Object.keys(network).length > 0) machine.network = network;
  if (settings.installDisk && documentOfKind(roleDocuments, 'UnattendedInstallConfig')) {
    documents.push({ apiVersion: 'v1alpha1', kind: 'UnattendedInstallConfig', provisioning: { diskSelector: { match: `disk.dev_path == ${JSON.stringify(settings.installDisk)}` } } });
  } else if (settings.installDisk) machine.install = { disk: settings.installDisk };
  return { type: 'strategic', documents: [{ machine }, ...documents], source };
}

/** One node's configuration: the role's config plus its own settings and patches, validated. */
export function renderNodeConfig(roleConfigYaml: string, settings: NodeSettings, patches: ConfigPatch[] = [], source = 'node config'): string {
  const out = applyPatches(roleConfigYaml, [nodeSettingsPatch(settings, 'node settings', parseConfigDocuments(roleConfigYaml, source)), ...patches]);
  parseMachineConfig(out, source);
  return out;
}
