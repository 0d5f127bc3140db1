import { ValidationError } from '../errors';

/** Roles Talos grants through the client certificate's Subject O values (see talos-api.md §4). */
export const KNOWN_ROLES = ['os:admin', 'os:operator', 'os:reader', 'os:etcd:backup', 'os:impersonator'] as const;

/** One of {@link KNOWN_ROLES}. */
export type TalosRole = (typeof KNOWN_ROLES)[number];

/**
 * Validates role names given by a user (comma lists allowed) and returns them sorted and de-duplicated,
 * as upstream's role.Set does. Unknown names are refused here: a certificate with them would grant nothing.
 */
export function parseRoles(input: string[], subject = 'roles'): TalosRole[] {
  const names = input.flatMap((r) => r.split(',')).map((r) => r.trim()).filter((r) => r !== '');
  const problems = names
    .filter((r) => !(KNOWN_ROLES as readonly string[]).includes(r))
    .map((r) => ({ path: subject, message: `unknown role "${r}"; known roles: ${KNOWN_ROLES.join(', ')}` }));
  if (names.length === 0) problems.push({ path: subject, message: 'at least one role is required' });
  if (problems.length > 0) throw new ValidationError(subject, problems);
  return [...new Set(names as TalosRole[])].sort();
}
