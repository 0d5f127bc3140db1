// The per-machine cache of built tools (NAME-VERSION directories outside any checkout, so every clone reuses
// them) and the links from a checkout's `.tools/` into it.
import { accessSync, chmodSync, constants, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Where a checkout links its tools (ignored by git): `.tools/ID` points into the cache. */
export const TOOLS_DIR = resolve(__dirname, '..', '..', '.tools');

/** The cache root: `$TALOS_FLEET_TOOLS_CACHE`, else `${XDG_CACHE_HOME:-~/.cache}/talos-fleet/tools`. */
export function toolsCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TALOS_FLEET_TOOLS_CACHE) return resolve(env.TALOS_FLEET_TOOLS_CACHE);
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'talos-fleet', 'tools');
}

/** Written last into a finished entry: an entry without it is not complete, whatever else it holds. */
export interface Manifest {
  id: string;
  version: string;
  /** How it was made, in words (`go build of k8s.io/kubernetes@v1.37.2 ...`). */
  source: string;
  builtAt: string;
  buildSeconds: number;
  binaries: string[];
}

const MANIFEST = 'tool.json';

/** The manifest of a complete entry (following links), or undefined when the entry is missing or unfinished. */
export function readManifest(dir: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const PARTIAL = /^\.(.+)\.partial-(\d+)-/;

/** Removes what interrupted builds of `key` left behind (their process is gone); returns the pids still building it. */
function otherBuilds(root: string, key: string): number[] {
  const running: number[] = [];
  for (const name of readdirSync(root)) {
    const m = PARTIAL.exec(name);
    if (!m || m[1] !== key) continue;
    const pid = Number(m[2]);
    if (pid === process.pid) continue;
    if (pidAlive(pid)) running.push(pid);
    else rmSync(join(root, name), { recursive: true, force: true });
  }
  return running;
}


/** What a build step returns: how it made the entry, for the manifest. */
export interface BuildResult {
  source: string;
  /** Overrides the entry's version (Debian packages learn theirs while fetching). */
  version?: string;
}

/**
 * Returns the complete cache entry `root/key`, building it first when needed. The build writes into a fresh
 * temporary directory beside the entry, which is renamed into place only after every binary is there and the
 * manifest is written: an interrupted build never looks complete. A build of the same entry still running in
 * another process is waited for; two that start at the same instant both end well (the second rename loses, and its
 * copy is dropped).
 */
export async function installEntry(
  root: string,
  key: string,
  wanted: { id: string; version: string; binaries: string[] },
  build: (staging: string) => Promise<BuildResult>,
  options: { now?: () => number; onWait?: (pids: number[]) => void; pollMs?: number } = {},
): Promise<{ dir: string; manifest: Manifest; built: boolean }> {
  const now = options.now ?? Date.now;
  const dir = join(root, key);
  const existing = readManifest(dir);
  if (existing) return { dir, manifest: existing, built: false };
  mkdirSync(root, { recursive: true });
  // Another checkout building the same entry (several `npm test` at once): wait for it rather than build twice.
  let running = otherBuilds(root, key);
  if (running.length) options.onWait?.(running);
  while (running.length) {
    await new Promise((r) => setTimeout(r, options.pollMs ?? 1000));
    running = otherBuilds(root, key);
  }
  const finished = readManifest(dir);
  if (finished) return { dir, manifest: finished, built: false };
  const staging = mkdtempSync(join(root, `.${key}.partial-${process.pid}-`));
  try {
    const started = now();
    const result = await build(staging);
    const missing = wanted.binaries.filter((b) => !isExecutable(join(staging, 'bin', b)));
    if (missing.length) throw new Error(`the build finished without ${missing.join(', ')} in ${join(staging, 'bin')}`);
    const manifest: Manifest = {
      id: wanted.id,
      version: result.version ?? wanted.version,
      source: result.source,
      builtAt: new Date(started).toISOString(),
      buildSeconds: Math.round((now() - started) / 1000),
      binaries: wanted.binaries,
    };
    writeFileSync(join(staging, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    // mkdtemp makes it private; a shared cache (TALOS_FLEET_TOOLS_CACHE) must be readable by every user.
    chmodSync(staging, 0o755);
    // Not complete (no manifest) but present: left by something other than this code; ours replaces it.
    if (existsSync(dir) && !readManifest(dir)) rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(staging, dir);
    } catch (e) {
      const winner = readManifest(dir);
      if (!winner) throw e;
      return { dir, manifest: winner, built: false };
    }
    return { dir, manifest, built: true };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Points `toolsDir/id` at `target`, replacing an older link (or a directory left by the old layout) atomically. */
export function linkIntoTools(toolsDir: string, id: string, target: string): string {
  mkdirSync(toolsDir, { recursive: true });
  const link = join(toolsDir, id);
  const temp = join(toolsDir, `.${id}.link-${process.pid}`);
  rmSync(temp, { force: true });
  symlinkSync(target, temp);
  try {
    if (!lstatSync(link).isSymbolicLink()) rmSync(link, { recursive: true, force: true });
  } catch {
    // no link yet
  }
  renameSync(temp, link);
  return link;
}
