// Building a tool with Go from the Go module proxy: one `go build` per tool, inside a copy of the tool's module
// or inside an empty module that requires it.
import { copyFileSync, cpSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BuildResult } from './cache';
import type { GoSource } from './catalog';
import type { CommandLog } from './commands';

/**
 * The environment of every Go command here. No workspace or toolchain download may leak in; CGO off gives static
 * binaries. sum.golang.org is not reachable from our build machines, hence GOSUMDB=off unless the caller sets one.
 */
export function goEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, GOWORK: 'off', GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '-mod=mod -buildvcs=false', GOSUMDB: env.GOSUMDB ?? 'off' };
}

/** What a Go build does, in words, for the manifest and for error messages. */
export function describeGoBuild(source: GoSource, env: NodeJS.ProcessEnv = process.env): string {
  const m = source.module;
  const what = 'copy' in m ? `a copy of ${m.copy}@${m.version}${m.localReplacesAt ? ` (local replaces required at ${m.localReplacesAt})` : ''}` : `a module requiring ${m.require.map((r) => `${r}@${m.version}`).join(', ')}`;
  const action = source.packages.length ? `go build ${source.packages.join(' ')} in ${what}` : `files from ${what}`;
  return `${action}, from the Go module proxy${env.GOPROXY ? ` (GOPROXY=${env.GOPROXY})` : ''}`;
}

interface ModuleInfo {
  Dir: string;
  Origin?: { Hash?: string };
}

async function download(log: CommandLog, module: string, version: string, env: NodeJS.ProcessEnv, cwd: string): Promise<ModuleInfo> {
  return JSON.parse(await log.output('go', ['mod', 'download', '-json', `${module}@${version}`], { env, cwd })) as ModuleInfo;
}

/** Replaces that point into a directory of the module (left out of its zip) become requires of `version`. */
async function requireInsteadOfLocalReplaces(log: CommandLog, work: string, self: string, version: string, env: NodeJS.ProcessEnv): Promise<void> {
  const mod = JSON.parse(await log.output('go', ['mod', 'edit', '-json'], { cwd: work, env })) as { Replace?: { Old: { Path: string }; New: { Path: string; Version?: string } }[] };
  const edits = (mod.Replace ?? [])
    .filter((r) => !r.New.Version && /^\.\.?\//.test(r.New.Path))
    .flatMap((r) => (r.Old.Path === self ? [`-dropreplace=${r.Old.Path}`] : [`-dropreplace=${r.Old.Path}`, `-require=${r.Old.Path}@${version}`]));
  if (edits.length) await log.run('go', ['mod', 'edit', ...edits], { cwd: work, env });
}

/** Builds `source` into `staging/bin` (and copies its data files into `staging`), logging into `log`. */
export async function buildWithGo(source: GoSource, staging: string, log: CommandLog, env: NodeJS.ProcessEnv = process.env, now: () => Date = () => new Date()): Promise<BuildResult> {
  const goenv = goEnv(env);
  const work = join(staging, 'src');
  const m = source.module;
  let commit: string | undefined;
  if ('copy' in m) {
    const info = await download(log, m.copy, m.version, goenv, staging);
    commit = info.Origin?.Hash;
    cpSync(info.Dir, work, { recursive: true });
    // The module cache is read-only; the copy must be writable to edit go.mod and to be removed.
    await log.run('chmod', ['-R', 'u+w', work]);
    if (m.localReplacesAt) await requireInsteadOfLocalReplaces(log, work, m.copy, m.localReplacesAt, goenv);
  } else {
    mkdirSync(work);
    // `go get` raises the go line to what the required modules need.
    writeFileSync(join(work, 'go.mod'), 'module talos-fleet.local/build\n\ngo 1.22\n');
    await log.run('go', ['get', ...m.require.map((r) => `${r}@${m.version}`)], { cwd: work, env: goenv });
    commit = (await download(log, m.require[0]!, m.version, goenv, work)).Origin?.Hash;
  }
  if (source.packages.length) {
    const bin = join(staging, 'bin');
    mkdirSync(bin);
    const buildDate = now().toISOString().replace(/\.\d+Z$/, 'Z');
    const ldflags = ['-s', '-w', ...(source.ldflags?.({ commit, buildDate }) ?? [])].join(' ');
    const tags = source.tags?.length ? ['-tags', source.tags.join(',')] : [];
    await log.run('go', ['build', '-trimpath', ...tags, '-ldflags', ldflags, '-o', `${bin}/`, ...source.packages], { cwd: work, env: goenv });
    for (const [from, to] of Object.entries(source.rename ?? {})) renameSync(join(bin, from), join(bin, to));
  }
  for (const [from, to] of source.files ?? []) {
    mkdirSync(dirname(join(staging, to)), { recursive: true });
    copyFileSync(join(work, from), join(staging, to));
  }
  rmSync(work, { recursive: true, force: true });
  return { source: describeGoBuild(source, env) };
}
