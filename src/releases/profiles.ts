import { FleetError } from '../errors';
import type { EtcdLine } from '../tools/catalog';
import { compareSemVer, parseSemVer, type SemVer } from './versions';

/**
 * What each Talos minor does differently, as data: the one table the client, the simulator, `gen` and the upgrade
 * planner read. Facts from the reference notes (talos-api.md and talos-ops.md for 1.9/1.10, talos-lines.md for
 * 1.11-1.14); patch versions, default Kubernetes and etcd versions from each release's pkg/machinery (constants and
 * compatibility packages) at the latest patch the Go module proxy serves.
 */

/** The Talos minors this project speaks. */
export type TalosMinor = '1.9' | '1.10' | '1.11' | '1.12' | '1.13' | '1.14';

/** Every supported minor, oldest first. */
export const TALOS_MINORS: readonly TalosMinor[] = ['1.9', '1.10', '1.11', '1.12', '1.13', '1.14'];

/** How an OS upgrade is requested: `MachineService.Upgrade` (server-side drain and etcd checks) or `LifecycleService.Upgrade` (install only). */
export type UpgradeApi = 'legacy' | 'lifecycle';

/** The installer image `talosctl gen config`/`upgrade` of a minor uses by default (talos-lines.md §0). */
export type InstallerImageForm = 'ghcr' | 'factory';

/** Reboot modes a node accepts in `RebootRequest.mode`. */
export type RebootMode = 'DEFAULT' | 'POWERCYCLE' | 'FORCE';

/** ApplyConfiguration modes, as the proto names them. */
export type ApplyModeName = 'REBOOT' | 'AUTO' | 'NO_REBOOT' | 'STAGED' | 'TRY';

/** How a node without a configuration serves its API (talos-api.md §5; talos-lines.md §2). */
export interface MaintenanceProfile {
  /** `maintenance-service`: a separate server with its own checks (≤1.12); `apid`: apid itself with every caller os:reader (1.13+). */
  server: 'maintenance-service' | 'apid';
  /** True when Version answers in maintenance (1.13+, without `features`); false: `Unimplemented`. */
  versionAnswers: boolean;
  /** Modes ApplyConfiguration accepts there; the others are `Unimplemented`. */
  applyModes: readonly ApplyModeName[];
  /** The mode an accepted apply reports: 1.13+ turns REBOOT and AUTO into NO_REBOOT (mode 2); ≤1.12 replies with mode 0 and warnings only. */
  replyMode: 'REBOOT' | 'NO_REBOOT';
  /** 1.13+: a config without a v1alpha1 document is accepted (the node waits for the rest). */
  acceptsPartialConfig: boolean;
  /** COSI `MachineConfigs` ids present in maintenance: the `maintenance` id is gone in 1.13. */
  machineConfigIds: readonly string[];
}

/** ApplyConfiguration on a configured node (talos-api.md §2.1; talos-lines.md §3.3). */
export interface ApplyModeRules {
  /** REBOOT (0, also an unset mode): reboots, or `Unimplemented` on 1.14. */
  reboot: 'reboots' | 'unimplemented';
  /** AUTO: reboots when the change needs it, or (1.14) always applies without a reboot. */
  auto: 'reboot-when-needed' | 'never-reboots';
  /** NO_REBOOT with a change that needs a reboot: `InvalidArgument` (≤1.13) or applied live (1.14). */
  noRebootNeedingReboot: 'invalid-argument' | 'applies';
  /** A second apply while one runs: waits its turn, or (1.14) `FailedPrecondition`. */
  concurrent: 'serialized' | 'failed-precondition';
  /** The `--mode` values talosctl of this minor offers (what a user can ask for). */
  talosctlModes: readonly string[];
}

/** Differences of `ClusterService.HealthCheck` and worker-only refusals (talos-lines.md §4, §6). */
export interface HealthProfile {
  /** HealthCheck and Bootstrap on a worker: `FailedPrecondition` (≤1.12) or `Unimplemented` (1.13+). */
  workerRefusal: 'failed-precondition' | 'unimplemented';
  /** ≤1.12: every check has its own timeout; 1.13+: each polls until the request's wait timeout. */
  perCheckTimeouts: boolean;
  /** 1.13+: with CNI `none`, the k8s-ready and coredns checks report SKIP. */
  skipsWithoutCni: boolean;
}

/** The legacy `MachineService.Upgrade` (served on every profile; deprecated in 1.13, removal planned for 1.18). */
export interface LegacyUpgradeProfile {
  /** 1.13+: `FailedPrecondition` "Talos is not installed" on a node running from its boot medium. */
  refusesUninstalled: boolean;
  /** 1.14: `preserve` skips the etcd mutex and checks, as `force` does. */
  preserveSkipsEtcdChecks: boolean;
  deprecated: boolean;
}

/** COSI types and field numbers that moved (talos-lines.md §3.2, §6). */
export interface CosiProfile {
  /** Resource types beyond MachineStatus/MachineConfig/Version the node serves. */
  types: readonly string[];
  /** `APIServerConfigSpec.extra_args`: field 7 `map<string,string>` before 1.13, 13 `map<string,ArgValues>` from 1.13. */
  apiServerExtraArgsField: 7 | 13;
  /** 1.14 renders control-plane pods from `final-<service>` config resources. */
  finalControlPlaneConfigs: boolean;
}

/** apid's handling of one-to-many `nodes` metadata (talos-lines.md §7). */
export interface ProxyingProfile {
  /** `all` (≤1.12, except COSI), or only these service prefixes (1.13+). */
  nodesAllowedFor: 'all' | readonly string[];
  /** 1.14: `nodes` is deprecated ("multi-node proxying is deprecated"). */
  nodesDeprecated: boolean;
}

/** Everything that differs for one Talos minor. */
export interface VersionProfile {
  minor: TalosMinor;
  /** The latest patch release known (`v1.14.1`): the version intermediate upgrade hops go to. */
  latest: string;
  kubernetes: {
    /** `DefaultKubernetesVersion` of the latest patch (what `gen config` uses). */
    default: string;
    /** Oldest and newest supported Kubernetes minors (`1.32`, `1.37`), inclusive. */
    oldest: string;
    newest: string;
  };
  installer: {
    /** The installer refuses hosts older than this (`1.12.0`). */
    oldestHost: string;
    /** ... and hosts at or above this (a downgrade from too new a host). */
    newestHostBelow: string;
    /** The default installer image form of this minor's talosctl. */
    defaultImage: InstallerImageForm;
    /** Siderolabs still publishes `ghcr.io/siderolabs/installer` for this minor (not from 1.14 on). */
    ghcrPublished: boolean;
    /** The installer's exit codes: 1.14 classifies failures (2 invalid input, 3 unsupported, 5 dependency...); before, every failure is 1. */
    exitCodes: 'classified' | 'unclassified';
  };
  etcd: {
    /** `DefaultEtcdVersion` of the latest patch. */
    version: string;
    /** The etcd line the simulator runs for this minor (`requireEtcd(line)`). */
    line: EtcdLine;
    image: string;
  };
  upgradeApi: UpgradeApi;
  legacyUpgrade: LegacyUpgradeProfile;
  rebootModes: readonly RebootMode[];
  maintenance: MaintenanceProfile;
  applyModes: ApplyModeRules;
  health: HealthProfile;
  cosi: CosiProfile;
  proxying: ProxyingProfile;
  /** The gRPC services the node serves (of those this project speaks); any other answers `Unimplemented`. */
  apiServices: readonly string[];
  /** Machine-config document kinds this minor registers beyond v1alpha1 (cumulative; talos-lines.md §3.1). */
  configKinds: readonly string[];
  /** The Go toolchain the release is built with, as Version reports it (the go directive of its pkg/machinery). */
  goVersion: string;
  /** The machine-config contract `gen config` writes for this minor. */
  configContract: 'single-v1alpha1' | 'v1alpha1-hostname' | 'v1alpha1-hostname-no-network' | 'multidoc-1.14';
}

const ETCD_IMAGE_GCR = 'gcr.io/etcd-development/etcd';
const ETCD_IMAGE_K8S = 'registry.k8s.io/etcd';

const MAINTENANCE_SERVICE: MaintenanceProfile = {
  server: 'maintenance-service',
  versionAnswers: false,
  applyModes: ['REBOOT', 'AUTO', 'TRY'],
  replyMode: 'REBOOT',
  acceptsPartialConfig: false,
  machineConfigIds: ['v1alpha1', 'maintenance'],
};

const MAINTENANCE_APID: MaintenanceProfile = {
  server: 'apid',
  versionAnswers: true,
  applyModes: ['REBOOT', 'AUTO', 'NO_REBOOT', 'STAGED', 'TRY'],
  replyMode: 'NO_REBOOT',
  acceptsPartialConfig: true,
  machineConfigIds: ['v1alpha1'],
};

const APPLY_1_10: ApplyModeRules = {
  reboot: 'reboots',
  auto: 'reboot-when-needed',
  noRebootNeedingReboot: 'invalid-argument',
  concurrent: 'serialized',
  talosctlModes: ['auto', 'no-reboot', 'reboot', 'staged', 'interactive', 'try'],
};

const HEALTH_1_10: HealthProfile = { workerRefusal: 'failed-precondition', perCheckTimeouts: true, skipsWithoutCni: false };
const HEALTH_1_13: HealthProfile = { workerRefusal: 'unimplemented', perCheckTimeouts: false, skipsWithoutCni: true };

const LEGACY_1_10: LegacyUpgradeProfile = { refusesUninstalled: false, preserveSkipsEtcdChecks: false, deprecated: false };

/** Services apid 1.13+ still fans out to with `nodes`. */
export const NODES_ALLOWLIST: readonly string[] = ['/machine.MachineService/', '/cluster.ClusterService/', '/inspect.InspectService/', '/storage.StorageService/', '/time.TimeService/'];

const PROXY_ALL: ProxyingProfile = { nodesAllowedFor: 'all', nodesDeprecated: false };

const KINDS_1_10 = [
  'SideroLinkConfig', 'EventSinkConfig', 'KmsgLogConfig', 'WatchdogTimerConfig', 'VolumeConfig', 'UserVolumeConfig', 'TrustedRootsConfig', 'NetworkDefaultActionConfig',
  'NetworkRuleConfig', 'EthernetConfig', 'KubeSpanEndpointsConfig', 'PCIDriverRebindConfig', 'ExtensionServiceConfig',
];
const KINDS_1_11 = [...KINDS_1_10, 'ExistingVolumeConfig', 'RawVolumeConfig', 'SwapVolumeConfig', 'ZswapConfig'];
const KINDS_1_12 = [
  ...KINDS_1_11,
  ...['Hostname', 'Resolver', 'TimeSync', 'Link', 'LinkAlias', 'Bond', 'Bridge', 'VLAN', 'DummyLink', 'Wireguard', 'DHCPv4', 'DHCPv6', 'Layer2VIP', 'HCloudVIP', 'StaticHost', 'OOM', 'RegistryMirror', 'RegistryAuth', 'RegistryTLS'].map(
    (k) => `${k}Config`,
  ),
];
const KINDS_1_13 = [...KINDS_1_12, ...['KubeSpan', 'Environment', 'ExternalVolume', 'ImageVerification', 'BlackholeRoute', 'RoutingRule', 'TCPProbe', 'VRF'].map((k) => `${k}Config`)];
const KINDS_1_14 = [
  ...KINDS_1_13,
  ...[
    'KubeCluster', 'KubeNode', 'Kubelet', 'KubeNetwork', 'KubeAPIServer', 'KubeControllerManager', 'KubeScheduler', 'KubeProxy', 'KubeAPIServerCA', 'KubeAggregatorCA',
    'KubeServiceAccount', 'KubeEtcdEncryption', 'KubeAdmissionControl', 'KubeAuditPolicy', 'KubeAuthentication', 'KubeAuthorizer', 'KubeCoreDNS', 'KubeFlannelCNI', 'KubePrism',
    'KubeCredentialProvider', 'KubeStaticPod', 'KubeInlineManifest', 'KubeExternalManifest', 'KubeTalosAPIAccess',
    'DiscoveryService', 'DiscoveryIdentity', 'UnattendedInstall', 'SecurityProfile', 'FilesystemTrim', 'FilesystemScrub', 'ImageCache', 'Sysctl', 'Sysfs', 'KernelModule', 'UdevRules',
    'EtcFile', 'CRICustomization', 'CRIBaseRuntimeSpec', 'Container', 'LVMVolumeGroup', 'LVMLogicalVolume', 'RAIDArray', 'BGPInstance', 'HTTPProbe', 'Veth',
  ].map((k) => `${k}Config`),
];

const SERVICES_1_10 = ['machine.MachineService', 'cluster.ClusterService', 'cosi.resource.State'];
const SERVICES_1_13 = [...SERVICES_1_10, 'machine.ImageService', 'machine.LifecycleService'];

const COSI_BASE = ['Versions.runtime.talos.dev', 'Nodenames.kubernetes.talos.dev', 'StaticPodStatuses.kubernetes.talos.dev'];
const COSI_1_13 = [...COSI_BASE, 'APIServiceConfigs.runtime.talos.dev'];
const COSI_1_14 = [...COSI_1_13, 'BootIDs.runtime.talos.dev', 'UnattendedInstallStatuses.runtime.talos.dev', 'ImageFactorySchematics.runtime.talos.dev'];

const PROFILES: Readonly<Record<TalosMinor, VersionProfile>> = {
  '1.9': {
    minor: '1.9',
    goVersion: 'go1.23.8',
    latest: 'v1.9.6',
    kubernetes: { default: '1.32.4', oldest: '1.27', newest: '1.32' },
    installer: { oldestHost: '1.8.0', newestHostBelow: '1.11.0', defaultImage: 'ghcr', ghcrPublished: true, exitCodes: 'unclassified' },
    etcd: { version: 'v3.5.21', line: '3.5', image: ETCD_IMAGE_GCR },
    upgradeApi: 'legacy',
    legacyUpgrade: LEGACY_1_10,
    rebootModes: ['DEFAULT', 'POWERCYCLE'],
    maintenance: MAINTENANCE_SERVICE,
    applyModes: APPLY_1_10,
    health: HEALTH_1_10,
    cosi: { types: COSI_BASE, apiServerExtraArgsField: 7, finalControlPlaneConfigs: false },
    proxying: PROXY_ALL,
    apiServices: SERVICES_1_10,
    configKinds: KINDS_1_10,
    configContract: 'single-v1alpha1',
  },
  '1.10': {
    minor: '1.10',
    goVersion: 'go1.24.11',
    latest: 'v1.10.9',
    kubernetes: { default: '1.33.6', oldest: '1.28', newest: '1.33' },
    installer: { oldestHost: '1.8.0', newestHostBelow: '1.12.0', defaultImage: 'ghcr', ghcrPublished: true, exitCodes: 'unclassified' },
    etcd: { version: 'v3.5.26', line: '3.5', image: ETCD_IMAGE_GCR },
    upgradeApi: 'legacy',
    legacyUpgrade: LEGACY_1_10,
    rebootModes: ['DEFAULT', 'POWERCYCLE'],
    maintenance: MAINTENANCE_SERVICE,
    applyModes: APPLY_1_10,
    health: HEALTH_1_10,
    cosi: { types: COSI_BASE, apiServerExtraArgsField: 7, finalControlPlaneConfigs: false },
    proxying: PROXY_ALL,
    apiServices: SERVICES_1_10,
    configKinds: KINDS_1_10,
    configContract: 'single-v1alpha1',
  },
  '1.11': {
    minor: '1.11',
    goVersion: 'go1.24.0',
    latest: 'v1.11.6',
    kubernetes: { default: '1.34.1', oldest: '1.29', newest: '1.34' },
    installer: { oldestHost: '1.9.0', newestHostBelow: '1.13.0', defaultImage: 'ghcr', ghcrPublished: true, exitCodes: 'unclassified' },
    etcd: { version: 'v3.6.5', line: '3.6', image: ETCD_IMAGE_GCR },
    upgradeApi: 'legacy',
    legacyUpgrade: LEGACY_1_10,
    rebootModes: ['DEFAULT', 'POWERCYCLE'],
    maintenance: MAINTENANCE_SERVICE,
    applyModes: APPLY_1_10,
    health: HEALTH_1_10,
    cosi: { types: COSI_BASE, apiServerExtraArgsField: 7, finalControlPlaneConfigs: false },
    proxying: PROXY_ALL,
    apiServices: SERVICES_1_10,
    configKinds: KINDS_1_11,
    configContract: 'single-v1alpha1',
  },
  '1.12': {
    minor: '1.12',
    goVersion: 'go1.25.3',
    latest: 'v1.12.7',
    kubernetes: { default: '1.35.4', oldest: '1.30', newest: '1.35' },
    installer: { oldestHost: '1.10.0', newestHostBelow: '1.14.0', defaultImage: 'ghcr', ghcrPublished: true, exitCodes: 'unclassified' },
    etcd: { version: 'v3.6.9', line: '3.6', image: ETCD_IMAGE_K8S },
    upgradeApi: 'legacy',
    legacyUpgrade: LEGACY_1_10,
    rebootModes: ['DEFAULT', 'POWERCYCLE', 'FORCE'],
    maintenance: MAINTENANCE_SERVICE,
    applyModes: APPLY_1_10,
    health: HEALTH_1_10,
    cosi: { types: COSI_BASE, apiServerExtraArgsField: 7, finalControlPlaneConfigs: false },
    proxying: PROXY_ALL,
    apiServices: SERVICES_1_10,
    configKinds: KINDS_1_12,
    configContract: 'v1alpha1-hostname',
  },
  '1.13': {
    minor: '1.13',
    goVersion: 'go1.26.1',
    latest: 'v1.13.3',
    kubernetes: { default: '1.36.1', oldest: '1.31', newest: '1.36' },
    installer: { oldestHost: '1.11.0', newestHostBelow: '1.15.0', defaultImage: 'ghcr', ghcrPublished: true, exitCodes: 'unclassified' },
    etcd: { version: 'v3.6.11', line: '3.6', image: ETCD_IMAGE_K8S },
    upgradeApi: 'lifecycle',
    legacyUpgrade: { refusesUninstalled: true, preserveSkipsEtcdChecks: false, deprecated: true },
    rebootModes: ['DEFAULT', 'POWERCYCLE', 'FORCE'],
    maintenance: MAINTENANCE_APID,
    applyModes: { ...APPLY_1_10, talosctlModes: ['auto', 'no-reboot', 'reboot', 'staged', 'try'] },
    health: HEALTH_1_13,
    cosi: { types: COSI_1_13, apiServerExtraArgsField: 13, finalControlPlaneConfigs: false },
    proxying: { nodesAllowedFor: NODES_ALLOWLIST, nodesDeprecated: false },
    apiServices: SERVICES_1_13,
    configKinds: KINDS_1_13,
    configContract: 'v1alpha1-hostname-no-network',
  },
  '1.14': {
    minor: '1.14',
    goVersion: 'go1.26.5',
    latest: 'v1.14.1',
    kubernetes: { default: '1.37.0', oldest: '1.32', newest: '1.37' },
    installer: { oldestHost: '1.12.0', newestHostBelow: '1.16.0', defaultImage: 'factory', ghcrPublished: false, exitCodes: 'classified' },
    etcd: { version: '3.7.1', line: '3.7', image: ETCD_IMAGE_K8S },
    upgradeApi: 'lifecycle',
    legacyUpgrade: { refusesUninstalled: true, preserveSkipsEtcdChecks: true, deprecated: true },
    rebootModes: ['DEFAULT', 'POWERCYCLE', 'FORCE'],
    maintenance: MAINTENANCE_APID,
    applyModes: { reboot: 'unimplemented', auto: 'never-reboots', noRebootNeedingReboot: 'applies', concurrent: 'failed-precondition', talosctlModes: ['auto', 'no-reboot', 'staged', 'try'] },
    health: HEALTH_1_13,
    cosi: { types: COSI_1_14, apiServerExtraArgsField: 13, finalControlPlaneConfigs: true },
    proxying: { nodesAllowedFor: NODES_ALLOWLIST, nodesDeprecated: true },
    apiServices: SERVICES_1_13,
    configKinds: KINDS_1_14,
    configContract: 'multidoc-1.14',
  },
};

/** A Talos version this project has no profile for (older than 1.9, newer than 1.14, or not a version). */
export class UnknownTalosVersionError extends FleetError {
  constructor(version: string) {
    super('unknown_talos_version', `Talos ${version} is not a version this project knows; known: ${TALOS_MINORS.map((m) => `v${m}`).join(', ')}`);
  }
}

/** `v1.14.1`, `1.14`, `v1.14.0-alpha.1` → `1.14`; undefined when it names no known minor. */
export function minorOf(version: string): TalosMinor | undefined {
  const m = /^v?(\d+)\.(\d+)(?:$|[.-])/.exec(version.trim());
  const minor = m ? `${Number(m[1])}.${Number(m[2])}` : '';
  return (TALOS_MINORS as readonly string[]).includes(minor) ? (minor as TalosMinor) : undefined;
}

/** The profile of the minor `version` belongs to (`v1.14.1`, `1.14`, `v1.14`); {@link UnknownTalosVersionError} otherwise. */
export function profileFor(version: string): VersionProfile {
  const minor = minorOf(version);
  if (!minor) throw new UnknownTalosVersionError(version);
  return PROFILES[minor];
}

/** Every profile, oldest first. */
export function allProfiles(): VersionProfile[] {
  return TALOS_MINORS.map((m) => PROFILES[m]);
}

/** The upgrade API talosctl 1.13+ picks for a target running `version`: LifecycleService above 1.13.0-alpha.2, else the legacy Upgrade. */
export function upgradeApiFor(version: string): UpgradeApi {
  return profileFor(version).upgradeApi;
}

/** The Kubernetes minor of `1.33.6`/`v1.33` as a number (33); undefined when it is not a 1.x version. */
function kubernetesMinor(version: string): number | undefined {
  const m = /^v?1\.(\d+)(?:$|[.-])/.exec(version.trim());
  return m ? Number(m[1]) : undefined;
}

/** True when Talos `talos` (any version of a known minor) supports Kubernetes `kubernetes` (`1.33.6`). */
export function supportsKubernetes(talos: string, kubernetes: string): boolean {
  return kubernetesProblem(talos, kubernetes) === undefined;
}

/** Why Talos `talos` cannot run Kubernetes `kubernetes`, in upstream's words (compatibility.SupportedWith); undefined when it can. */
export function kubernetesProblem(talos: string, kubernetes: string): string | undefined {
  const profile = profileFor(talos);
  const minor = kubernetesMinor(kubernetes);
  const k8s = kubernetes.trim().replace(/^v/, '');
  const target = talos.trim().replace(/^v/, '');
  if (minor === undefined) return `"${kubernetes}" is not a Kubernetes version such as 1.33.6`;
  if (minor < kubernetesMinor(profile.kubernetes.oldest)!) return `version of Kubernetes ${k8s} is too old to be used with Talos ${target}`;
  if (minor > kubernetesMinor(profile.kubernetes.newest)!) return `version of Kubernetes ${k8s} is too new to be used with Talos ${target}`;
  return undefined;
}

function semver(version: string, what: string): SemVer {
  const v = parseSemVer(version);
  if (!v) throw new FleetError('invalid_version', `${what} "${version}" is not a version such as v1.12.7`);
  return v;
}

const show = (v: SemVer): string => `${v.major}.${v.minor}.${v.patch}`;

/**
 * Why the installer of `target` refuses to run on a host at `host` (compatibility.UpgradeableFrom, in upstream's
 * words: "host version 1.10.9 is too old to upgrade to Talos 1.14.1"); undefined when it runs.
 */
export function installerProblem(host: string, target: string): string | undefined {
  const profile = profileFor(target);
  const h = semver(host, 'host version');
  const t = semver(target, 'target version');
  if (compareSemVer(h, semver(profile.installer.oldestHost, 'oldest host')) < 0) return `host version ${show(h)} is too old to upgrade to Talos ${show(t)}`;
  if (compareSemVer(h, semver(profile.installer.newestHostBelow, 'newest host')) >= 0) return `host version ${show(h)} is too new to downgrade to Talos ${show(t)}`;
  return undefined;
}

/** True when the installer of `target` accepts a host running `host` (the bounds of talos-lines.md §0). */
export function installerAccepts(host: string, target: string): boolean {
  return installerProblem(host, target) === undefined;
}

/** No chain of installers leads from one version to the other. */
export class UpgradePathError extends FleetError {
  constructor(message: string) {
    super('no_upgrade_path', message);
  }
}

/** Options of {@link nextHops}. */
export interface HopOptions {
  /** Stop at every minor in between (the docs' most conservative path), instead of the longest hop each installer accepts. */
  everyMinor?: boolean;
  /** The Kubernetes version the cluster runs: every hop must support it ({@link UpgradePathError} otherwise). */
  kubernetes?: string;
}

/**
 * The versions to install, in order, to go from `from` to `to`: each intermediate hop is the latest patch of its
 * minor, the last is `to` itself. By default each hop goes as far as the next installer accepts (1.10.9 → 1.12.7 →
 * 1.14.1); `everyMinor` stops at each minor. A downgrade is one hop, when the target's installer allows it.
 */
export function nextHops(from: string, to: string, options: HopOptions = {}): string[] {
  const start = semver(from, 'current version');
  const goal = semver(to, 'target version');
  profileFor(from);
  const goalProfile = profileFor(to);
  const check = (hop: string) => {
    const problem = options.kubernetes === undefined ? undefined : kubernetesProblem(hop, options.kubernetes);
    if (problem) throw new UpgradePathError(`cannot upgrade through Talos ${hop}: ${problem}; upgrade Kubernetes first`);
  };
  if (compareSemVer(goal, start) <= 0) {
    if (compareSemVer(goal, start) === 0) return [];
    const problem = installerProblem(from, to);
    if (problem) throw new UpgradePathError(`cannot go from Talos ${from} to ${to}: ${problem}`);
    check(to);
    return [to];
  }
  const hops: string[] = [];
  let host = from;
  while (host !== to) {
    if (installerAccepts(host, to) && (!options.everyMinor || minorOf(host) === goalProfile.minor || nextMinor(host) === goalProfile.minor)) {
      check(to);
      hops.push(to);
      break;
    }
    // The furthest minor below the goal whose installer takes this host (or simply the next one).
    const candidates = TALOS_MINORS.filter((m) => {
      const latest = PROFILES[m].latest;
      return compareSemVer(semver(latest, 'latest'), semver(host, 'host')) > 0 && compareSemVer(semver(latest, 'latest'), goal) < 0 && installerAccepts(host, latest);
    });
    const pick = options.everyMinor ? candidates[0] : candidates[candidates.length - 1];
    if (!pick) throw new UpgradePathError(`cannot go from Talos ${from} to ${to}: ${installerProblem(host, to) ?? `no installer between ${host} and ${to} accepts ${host}`}`);
    const hop = PROFILES[pick].latest;
    check(hop);
    hops.push(hop);
    host = hop;
  }
  return hops;
}

/** The minor after `version`'s, if this project knows it. */
function nextMinor(version: string): TalosMinor | undefined {
  const i = TALOS_MINORS.indexOf(minorOf(version)!);
  return TALOS_MINORS[i + 1];
}
