import { isIP } from 'node:net';

/**
 * Host and port of network addresses as users write them: `host`, `host:port`, `[v6]:port`, `[v6]`, or a bare IPv6
 * literal (`fd00::1`, whose last group is not a port). One home, so every part of the product reads them alike.
 */

/** The host of an address, without brackets or port. */
export function hostOf(address: string): string {
  const a = address.trim();
  const bracketed = /^\[([^\]]*)\](?::\d+)?$/.exec(a);
  if (bracketed) return bracketed[1]!;
  if (isIP(a) === 6) return a;
  return a.replace(/:\d+$/, '');
}

/** The port of an address, when it names one. */
export function portOf(address: string): number | undefined {
  const a = address.trim();
  if (isIP(a) === 6) return undefined;
  const m = /:(\d+)$/.exec(a);
  return m ? Number(m[1]) : undefined;
}

/** `host:port` (IPv6 in brackets), keeping the address's own port, else `defaultPort`. */
export function withPort(address: string, defaultPort: number): string {
  const host = hostOf(address);
  const port = portOf(address) ?? defaultPort;
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}
