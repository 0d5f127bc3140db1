import { ValidationError } from '../errors';

const UNIT_MS = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } satisfies Record<string, number>;
type Unit = keyof typeof UNIT_MS;

/** Parses a Go duration (`8760h`, `1h30m`, `90s`), the format talosctl's `--crt-ttl` takes, into milliseconds. */
export function parseGoDuration(text: string, path = 'duration'): number {
  const input = text.trim();
  const parts = [...input.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (input === '' || parts.map((p) => p[0]).join('') !== input) {
    throw new ValidationError(path, [{ path, message: `"${text}" is not a duration such as 8760h or 1h30m` }]);
  }
  // p[2] is the unit group, which the regex only matches with one of UNIT_MS's keys.
  return parts.reduce((ms, p) => ms + Number(p[1]) * UNIT_MS[p[2] as Unit], 0);
}
