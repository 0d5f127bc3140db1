// Fetching a tool from Debian packages: `apt-get download` and `dpkg -x`, as the caller, with nothing installed.
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildResult } from './cache';
import type { DebianSource } from './catalog';
import type { CommandLog } from './commands';

// The sandbox user `_apt` cannot write into our directory; downloading as the caller is what we want.
const APT_AS_CALLER = ['-q', '-o', 'APT::Sandbox::User=root'];

/** What the fetch does, in words. */
export function describeDebianFetch(source: DebianSource): string {
  return `apt-get download ${source.packages.join(' ')} and dpkg -x (Debian packages, nothing installed)`;
}

/** The version apt would fetch of the first package; runs `apt-get update` once when the lists are missing. */
export async function debianCandidate(source: DebianSource, log: CommandLog): Promise<string> {
  const candidate = async (): Promise<string | undefined> => {
    const policy = await log.output('apt-cache', ['policy', source.packages[0]!]);
    const version = /Candidate:\s*(\S+)/.exec(policy)?.[1];
    return version && version !== '(none)' ? version : undefined;
  };
  const found = await candidate();
  if (found) return found;
  await log.run('apt-get', ['update', '-q']);
  const updated = await candidate();
  if (!updated) throw new Error(`apt knows no package ${source.packages[0]} (after apt-get update)`);
  return updated;
}

/**
 * Downloads the packages at `version` (the first package's; the others at apt's candidate) and unpacks them;
 * the binaries in their usr/bin move to `staging/bin`. Stale package lists (the mirror no longer has that
 * version) get one `apt-get update`.
 */
export async function fetchFromDebian(source: DebianSource, version: string, staging: string, log: CommandLog): Promise<BuildResult> {
  const debs = join(staging, 'debs');
  mkdirSync(debs);
  const names = source.packages.map((p, i) => (i === 0 ? `${p}=${version}` : p));
  try {
    await log.run('apt-get', [...APT_AS_CALLER, 'download', ...names], { cwd: debs });
  } catch {
    await log.run('apt-get', ['update', '-q']);
    const now = await debianCandidate(source, log);
    if (now !== version) throw new Error(`apt's package lists were stale: ${source.packages[0]} ${version} is gone, ${now} is offered now; run \`npm run tools\` again`);
    await log.run('apt-get', [...APT_AS_CALLER, 'download', ...names], { cwd: debs });
  }
  const root = join(staging, 'root');
  for (const deb of readdirSync(debs).filter((f) => f.endsWith('.deb'))) await log.run('dpkg', ['-x', join(debs, deb), root]);
  const bin = join(staging, 'bin');
  mkdirSync(bin);
  for (const file of readdirSync(join(root, 'usr', 'bin'))) renameSync(join(root, 'usr', 'bin', file), join(bin, file));
  rmSync(debs, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
  return { source: `${describeDebianFetch(source)}: ${names.join(' ')}`, version };
}
