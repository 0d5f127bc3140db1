import { parseSemVer } from '../../releases/versions';

/**
 * Upstream's authorization rule table (machined's rules, Talos 1.9/1.10): which roles may call which method.
 * A method missing from the table is admin-only. Roles come from the client certificate's Subject O values.
 */

const A = 'os:admin';
const O = 'os:operator';
const R = 'os:reader';
const B = 'os:etcd:backup';

const M = '/machine.MachineService/';

const RULES: Record<string, string[]> = {
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
};

/** Before 1.9.6 / 1.10.1 the etcd read calls were narrower (talos-api.md §2). */
const RULES_BEFORE_ETCD_READ_OPENING: Record<string, string[]> = {
  [`${M}EtcdMemberList`]: [A, O, R],
  [`${M}EtcdStatus`]: [A, O],
  [`${M}EtcdAlarmList`]: [A, O],
};

function opensEtcdReads(version: string): boolean {
  const v = parseSemVer(version);
  if (!v) return true;
  const { major, minor, patch } = v;
  if (major !== 1) return major > 1;
  if (minor === 9) return patch >= 6;
  if (minor === 10) return patch >= 1;
  return minor > 10;
}

/** Roles allowed to call a method on a node running `version`. */
export function allowedRoles(path: string, version: string): string[] {
  const old = opensEtcdReads(version) ? undefined : RULES_BEFORE_ETCD_READ_OPENING[path];
  return old ?? RULES[path] ?? [A];
}

/** COSI resource types that need os:admin to read (they hold secrets). */
export const SENSITIVE_RESOURCE_TYPES = new Set(['MachineConfigs.config.talos.dev']);

/** True when any of the caller's roles may call the method. */
export function isAllowed(path: string, roles: string[], version: string): boolean {
  const allowed = allowedRoles(path, version);
  return roles.some((r) => allowed.includes(r));
}
