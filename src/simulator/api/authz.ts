import { allowedRoles, READER_IN_MAINTENANCE } from '../../releases/roles';

/**
 * Authorization as machined does it, reading the rule table of the node's Talos minor (src/releases/roles.ts). Roles
 * come from the client certificate's Subject O values; a method missing from the table is admin-only.
 */

export { allowedRoles } from '../../releases/roles';

/** COSI resource types that need os:admin to read (they hold secrets). */
export const SENSITIVE_RESOURCE_TYPES = new Set(['MachineConfigs.config.talos.dev']);

/**
 * True when any of the caller's roles may call the method. From 1.13 the table lists os:reader for ApplyConfiguration
 * and a few wipes, which the handlers admit only while the node is in maintenance mode.
 */
export function isAllowed(path: string, roles: string[], version: string, inMaintenance = false): boolean {
  const allowed = allowedRoles(path, version).filter((r) => inMaintenance || r !== 'os:reader' || !READER_IN_MAINTENANCE.has(path));
  return roles.some((r) => allowed.includes(r));
}
