import { isIP } from 'node:net';
import { ValidationError, type Problem } from '../errors';

/** The Kubernetes API port talosctl suggests when an endpoint has none. */
export const DEFAULT_CONTROL_PLANE_PORT = 6443;

const DNS_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** True for `a.b.c.d/n` or `v6::/n` with a prefix length the address family allows. */
export function isCidr(value: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(value);
  if (!m) return false;
  const family = isIP(m[1]!);
  const bits = Number(m[2]);
  return (family === 4 && bits <= 32) || (family === 6 && bits <= 128);
}

/**
 * Problems with a cluster endpoint, checked as `talosctl gen config` does: scheme must be https, IPv6 in brackets,
 * a real host, a numeric port in range. With `requirePort` a missing port is refused too. Each message ends with a
 * corrected URL to try when one can be guessed.
 */
export function clusterEndpointProblems(endpoint: string, path: string, opts: { requirePort: boolean }): Problem[] {
  const problem = (message: string): Problem[] => [{ path, message }];
  const input = endpoint.trim();
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(input);
  const rest = scheme ? scheme[2]! : input;
  const authority = rest.split(/[/?#]/)[0]!;
  // Checked first and never echoed: user information may hold a password.
  if (authority.includes('@')) return problem('must not contain user information (user:password@...); use https://HOST:PORT');

  let host = authority;
  let port: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(authority);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2];
  } else if ((authority.match(/:/g) ?? []).length > 1) {
    return problem(`"${endpoint}": IPv6 addresses must be enclosed in square brackets, e.g. https://[${authority}]:${DEFAULT_CONTROL_PLANE_PORT}`);
  } else if (authority.includes(':')) {
    [host = '', port] = authority.split(':'); // exactly one ':' here, so two parts
  }
  const hostForUrl = isIP(host) === 6 ? `[${host}]` : host;
  const suggestion = `https://${hostForUrl}:${port || DEFAULT_CONTROL_PLANE_PORT}`;

  if (!scheme) {
    return problem(`"${endpoint}" has no scheme${port ? '' : ' and no port'}; try "${suggestion}"`);
  }
  if (scheme[1]!.toLowerCase() !== 'https') {
    return problem(`"${endpoint}" must use the https:// scheme; try "${suggestion}"`);
  }
  if (host === '') return problem(`"${endpoint}" has no host name`);
  if (isIP(host) === 0 && !DNS_NAME.test(host)) return problem(`"${endpoint}": "${host}" is neither an IP address nor a DNS name`);
  if (bracketed && isIP(host) !== 6) return problem(`"${endpoint}": "${host}" in brackets is not an IPv6 address`);
  if (port === undefined || port === '') {
    return opts.requirePort ? problem(`"${endpoint}" has no port; try "${suggestion}"`) : [];
  }
  if (!/^\d+$/.test(port)) return problem(`"${endpoint}": port "${port}" must be numeric`);
  if (Number(port) < 1 || Number(port) > 65535) return problem(`"${endpoint}": port ${port} must be between 1 and 65535`);
  return [];
}

/** Validates the `gen config` endpoint argument (`https://host:port`), throwing a ValidationError with the fix to try. */
export function checkClusterEndpoint(endpoint: string): string {
  const problems = clusterEndpointProblems(endpoint, 'endpoint', { requirePort: true });
  if (problems.length > 0) throw new ValidationError('cluster endpoint', problems);
  return endpoint.trim();
}
