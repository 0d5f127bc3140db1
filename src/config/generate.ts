import { ValidationError } from '../errors';
import { newTalosconfig, type Talosconfig } from './talosconfig';
import { issueCertificate } from './certs';
import { checkClusterEndpoint } from './endpoint';
import { stringifyGoYamlDocuments } from './goyaml';
import { parseMachineConfig } from './machineconfig';
import { applyPatchesToDocuments, parseConfigDocuments, type ConfigPatch } from './patches';
import { movedFieldProblems } from './multidoc';
import { renderContract } from './contracts';
import { defaultInstallerImage } from '../releases/images';
import { generateSecretsBundle, type SecretsBundle } from './secrets';
import { checkKubernetesVersion, DEFAULT_CONTRACT, formatContract, parseVersionContract, releaseDefaults } from './versions';
import { parseRoles } from './roles';

/** Lifetime of the admin client certificate in a generated talosconfig: 8760 h (1 year), as upstream. */
export const ADMIN_CERT_TTL_MS = 8_760 * 3_600_000;

/** Input of {@link generateMachineConfigs}; only the cluster name and endpoint are required. */
export interface GenerateConfigInput {
  clusterName: string;
  /** Kubernetes API endpoint, `https://host:port`. */
  endpoint: string;
  /** The cluster's secrets; a new bundle is generated when omitted. */
  secrets?: SecretsBundle;
  /** Version contract, `v1.9` … `v1.14` (default `v1.10`). */
  talosVersion?: string;
  /** Defaults to the Kubernetes version the chosen Talos release defaults to. */
  kubernetesVersion?: string;
  installDisk?: string;
  installImage?: string;
  additionalSans?: string[];
  dnsDomain?: string;
  clusterDiscovery?: boolean;
  /** talosconfig endpoints (control-plane addresses); empty, like talosctl's, when unknown. */
  talosconfigEndpoints?: string[];
  /** Roles of the talosconfig's client certificate; `os:admin` by default. */
  roles?: string[];
  patches?: ConfigPatch[];
  controlPlanePatches?: ConfigPatch[];
  workerPatches?: ConfigPatch[];
  now?: Date;
}

/** The three outputs of `gen config`. */
export interface GeneratedConfigs {
  controlplane: string;
  worker: string;
  talosconfig: Talosconfig;
  secrets: SecretsBundle;
}

/**
 * Renders controlplane.yaml and worker.yaml as `talosctl gen config` does for the chosen contract (without its
 * documentation comments), applies the patches (all nodes first, then per role), validates the results, and
 * issues the talosconfig's client certificate from the bundle's OS CA.
 */
export async function generateMachineConfigs(input: GenerateConfigInput): Promise<GeneratedConfigs> {
  const endpoint = checkClusterEndpoint(input.endpoint);
  if (!/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(input.clusterName)) {
    throw new ValidationError('cluster name', [{ path: 'clusterName', message: `"${input.clusterName}" must be letters, digits, ".", "_" or "-"` }]);
  }
  const contract = input.talosVersion ? parseVersionContract(input.talosVersion) : DEFAULT_CONTRACT;
  const release = releaseDefaults(contract);
  const kubernetesVersion = checkKubernetesVersion(input.kubernetesVersion ?? release.kubernetesVersion, release);
  const roles = parseRoles(input.roles ?? ['os:admin']);
  const secrets = input.secrets ?? (await generateSecretsBundle({ versionContract: contract, now: input.now }));

  const renderInput = {
    clusterName: input.clusterName,
    endpoint,
    secrets,
    kubernetesVersion,
    installDisk: input.installDisk ?? '/dev/sda',
    installImage: input.installImage ?? defaultInstallerImage(release.talosVersion),
    additionalSans: input.additionalSans ?? [],
    dnsDomain: input.dnsDomain ?? 'cluster.local',
    clusterDiscovery: input.clusterDiscovery ?? true,
  };
  const common = input.patches ?? [];
  const controlplane = stringifyGoYamlDocuments(applyPatchesToDocuments(renderContract(release.profile, renderInput, 'controlplane'), [...common, ...(input.controlPlanePatches ?? [])]));
  const worker = stringifyGoYamlDocuments(applyPatchesToDocuments(renderContract(release.profile, renderInput, 'worker'), [...common, ...(input.workerPatches ?? [])]));
  // A patch can break a config (a bad CIDR, a removed required field, a field the contract moved to another
  // document); report it now, not when a node rejects it.
  for (const [name, text] of [['controlplane.yaml', controlplane], ['worker.yaml', worker]] as const) {
    const moved = movedFieldProblems(parseConfigDocuments(text, name), formatContract(contract));
    if (moved.length) throw new ValidationError(name, moved);
    parseMachineConfig(text, name);
  }

  const client = await issueCertificate(secrets.certs.os, { organizations: roles, usage: 'client', ttlMs: ADMIN_CERT_TTL_MS, now: input.now });
  const talosconfig = newTalosconfig(input.clusterName, input.talosconfigEndpoints ?? [], secrets.certs.os.crt, client);
  return { controlplane, worker, talosconfig, secrets };
}

/** Per-node rendering lives in node.ts; re-exported here because callers generating a cluster also render its nodes. */
export { renderNodeConfig } from './node';
