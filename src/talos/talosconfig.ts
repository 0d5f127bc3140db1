/**
 * talosconfig files: where talosctl looks for one, reading it and writing it. The model itself (parsing, contexts,
 * credentials) is pure and lives in src/config/talosconfig.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FleetError } from '../errors';
import { writeFileAtomically } from '../config/files';
import { parseTalosconfig, stringifyTalosconfig, type Talosconfig } from '../config/talosconfig';


/** talosctl's lookup: `$TALOSCONFIG`, `~/.talos/config`, `/var/run/secrets/talos.dev/config`; the first that exists, else the first writable one. */
export function resolveTalosconfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HOME || homedir();
  const standard = [join(home, '.talos', 'config'), '/var/run/secrets/talos.dev/config'] as const;
  const candidates: [string, ...string[]] = env.TALOSCONFIG ? [env.TALOSCONFIG, ...standard] : [...standard];
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
}

/** Reads and parses a talosconfig; a missing, unreadable or malformed file is an error that names the path. */
export function loadTalosconfig(path: string = resolveTalosconfigPath()): Talosconfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : (err as Error).message;
    throw new FleetError('talosconfig_unreadable', `talosconfig ${path} ${reason}`, { cause: err });
  }
  return parseTalosconfig(text, `talosconfig ${path}`);
}

/** Writes a talosconfig atomically with mode 0600 (it holds a private key); refuses to overwrite unless `force`. */
export function writeTalosconfig(path: string, cfg: Talosconfig, opts: { force?: boolean } = {}): void {
  writeFileAtomically(path, stringifyTalosconfig(cfg), { force: opts.force, mode: 0o600 });
}
