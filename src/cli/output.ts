import { userInfo } from 'node:os';

/** Prints rows as aligned columns under a header (as kubectl and talosctl do). */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** Writes a value as indented JSON (every verb's `--json`). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Who the CLI acts as: `--as`, else `$TALOS_FLEET_USER`, else the login name. */
export function actingUser(explicit?: string): string {
  return explicit ?? process.env.TALOS_FLEET_USER ?? userInfo().username;
}
