import { minorOf, TALOS_MINORS, type TalosMinor } from './profiles';
import { parseSemVer } from './versions';

/**
 * machined's authorization rule table per Talos minor (talos-api.md §2 for 1.9/1.10, talos-lines.md §7 for the
 * rows each later minor added): which roles may call which method. A method missing from the table is admin-only.
 */

const A = 'os:admin';
const O = 'os:operator';
const R = 'os:reader';
const B = 'os:etcd:backup';
/** 1.13: may call ImageService.Verify. */
const IMAGE_VERIFIER = 'os:image:verifier';
/** 1.13: may write and delete META keys. */
const META_WRITER = 'os:meta:writer';

/** Every role a certificate can carry, by the minor that introduced it. */
export const ROLES_BY_MINOR: Readonly<Record<TalosMinor, readonly string[]>> = {
  '1.9': [A, O, R, B, 'os:impersonator'],
  '1.10': [],
  '1.11': [],
  '1.12': [],
  '1.13': [IMAGE_VERIFIER, META_WRITER],
  '1.14': [],
};

const M = '/machine.MachineService/';
const IMAGE = '/machine.ImageService/';
const LIFECYCLE = '/machine.LifecycleService/';

type Rows = Readonly<Record<string, readonly string[]>>;

/** The 1.9/1.10 table (as of 1.9.6 and 1.10.1, which opened the etcd reads to os:reader and os:etcd:backup). */
const BASE: Rows = {
  [`${M}ApplyConfiguration`]: [A],
  [`${M}Bootstrap`]: [A],
  [`${M}Upgrade`]: [A],
  [`${M}Rollback`]: [A],
  [`${M}Reset`]: [A],
  [`${M}Reboot`]: [A, O],
  [`${M}Shutdown`]: [A, O],
  [`${M}Version`]: [A, O, R],
  [`${M}Hostname`]: [A, O, R],
  [`${M}Memory`]: [A, O, R],
  [`${M}LoadAvg`]: [A, O, R],
  [`${M}ServiceList`]: [A, O, R],
  [`${M}ServiceStart`]: [A, O],
  [`${M}ServiceStop`]: [A, O],
  [`${M}ServiceRestart`]: [A, O],
  [`${M}Logs`]: [A, O, R],
  [`${M}Dmesg`]: [A, O, R],
  [`${M}Events`]: [A, O, R],
  [`${M}Kubeconfig`]: [A],
  [`${M}Read`]: [A],
  [`${M}ImagePull`]: [A, O],
  [`${M}ImageList`]: [A, O, R],
  [`${M}GenerateClientConfiguration`]: [A],
  [`${M}EtcdSnapshot`]: [A, O, B],
  [`${M}EtcdRecover`]: [A],
  [`${M}EtcdMemberList`]: [A, O, R, B],
  [`${M}EtcdStatus`]: [A, O, R, B],
  [`${M}EtcdAlarmList`]: [A, O, R, B],
  [`${M}EtcdAlarmDisarm`]: [A, O],
  [`${M}EtcdDefragment`]: [A, O],
  [`${M}EtcdForfeitLeadership`]: [A],
  [`${M}EtcdLeaveCluster`]: [A],
  [`${M}EtcdRemoveMemberByID`]: [A],
  '/cluster.ClusterService/HealthCheck': [A, O, R],
  '/cosi.resource.State/Get': [A, O, R],
  '/cosi.resource.State/List': [A, O, R],
  '/cosi.resource.State/Watch': [A, O, R],
  '/storage.StorageService/Disks': [A, O, R],
};

/** The rows each minor added or changed. */
const ADDED: Readonly<Record<TalosMinor, Rows>> = {
  '1.9': {},
  '1.10': {},
  '1.11': {
    [`${M}EtcdDowngradeValidate`]: [A],
    [`${M}EtcdDowngradeEnable`]: [A],
    [`${M}EtcdDowngradeCancel`]: [A],
  },
  '1.12': {},
  '1.13': {
    [`${LIFECYCLE}Install`]: [A],
    [`${LIFECYCLE}Upgrade`]: [A],
    [`${IMAGE}List`]: [A, O, R],
    [`${IMAGE}Pull`]: [A, O],
    [`${IMAGE}Import`]: [A],
    [`${IMAGE}Remove`]: [A],
    [`${IMAGE}Verify`]: [A, O, R, IMAGE_VERIFIER],
    '/machine.DebugService/ContainerRun': [A],
    [`${M}MetaWrite`]: [A, META_WRITER],
    [`${M}MetaDelete`]: [A, META_WRITER],
    // The table lists os:reader; the handlers admit it only while the node is in maintenance ({@link READER_IN_MAINTENANCE}).
    [`${M}ApplyConfiguration`]: [A, R],
    '/storage.StorageService/BlockDeviceWipe': [A, R],
  },
  '1.14': {
    '/storage.LVMService/LogicalVolumeRemove': [A, R],
    '/storage.LVMService/VolumeGroupRemove': [A, R],
    '/storage.LVMService/PhysicalVolumeRemove': [A, R],
    '/storage.MDService/Destroy': [A, R],
    '/cosi.resource.State/Teardown': [A],
    '/cosi.resource.State/TeardownAndDestroy': [A],
  },
};

/** Methods whose handlers accept os:reader only in maintenance mode, although the 1.13+ table lists it. */
export const READER_IN_MAINTENANCE: ReadonlySet<string> = new Set([
  `${M}ApplyConfiguration`,
  '/storage.StorageService/BlockDeviceWipe',
  '/storage.LVMService/LogicalVolumeRemove',
  '/storage.LVMService/VolumeGroupRemove',
  '/storage.LVMService/PhysicalVolumeRemove',
  '/storage.MDService/Destroy',
]);

/** Before 1.9.6 / 1.10.1 the etcd read calls were narrower (talos-api.md §2): a patch-level difference. */
const BEFORE_ETCD_READ_OPENING: Rows = {
  [`${M}EtcdMemberList`]: [A, O, R],
  [`${M}EtcdStatus`]: [A, O],
  [`${M}EtcdAlarmList`]: [A, O],
};

function opensEtcdReads(version: string): boolean {
  const v = parseSemVer(version);
  if (!v || v.major !== 1) return true;
  if (v.minor === 9) return v.patch >= 6;
  if (v.minor === 10) return v.patch >= 1;
  return v.minor > 10;
}

const tables = new Map<TalosMinor, Rows>();

/** The whole rule table of a minor: the 1.9/1.10 rows with every later minor's rows applied in order. */
export function roleTableFor(version: string): Rows {
  const minor = minorOf(version) ?? '1.14';
  let table = tables.get(minor);
  if (!table) {
    const merged: Record<string, readonly string[]> = { ...BASE };
    for (const m of TALOS_MINORS.slice(0, TALOS_MINORS.indexOf(minor) + 1)) Object.assign(merged, ADDED[m]);
    table = merged;
    tables.set(minor, table);
  }
  return table;
}

/** Roles allowed to call `path` on a node running `version` (admin only for a method the table does not list). */
export function allowedRoles(path: string, version: string): readonly string[] {
  const old = opensEtcdReads(version) ? undefined : BEFORE_ETCD_READ_OPENING[path];
  return old ?? roleTableFor(version)[path] ?? [A];
}

/** Every role a node running `version` knows (unknown O values grant nothing). */
export function knownRoles(version: string): string[] {
  const minor = minorOf(version) ?? '1.14';
  return TALOS_MINORS.slice(0, TALOS_MINORS.indexOf(minor) + 1).flatMap((m) => ROLES_BY_MINOR[m]);
}
