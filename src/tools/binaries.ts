// Finding the external programs, without installing anything. A user's own binary always wins: an environment
// variable, then PATH when its version is on the line the project needs; otherwise the project-local copy that
// `npm run tools` links into `.tools/`.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync, realpathSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { FleetError } from '../errors';
import { readManifest, toolsCacheRoot, TOOLS_DIR } from './cache';
import { TOOLS, toolSpec, type BinarySpec, type EtcdLine, type ToolSpec } from './catalog';

export { TOOLS_DIR } from './cache';

/** Every executable the project can run; `etcd`, `etcdctl` and `etcdutl` mean the 3.5 line (what Talos 1.10 ships). */
export type ToolName =
  | 'temporal'
  | 'etcd'
  | 'etcdctl'
  | 'etcdutl'
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kwok'
  | 'versitygw'
  | 'age'
  | 'age-keygen'
  | 'zstd'
  | 'talosctl';

/** Where a binary was found, and why that one. */
export interface FoundBinary {
  path: string;
  /** `env`: named by a variable (or beside a binary so named); `path`: on PATH; `local`: the copy in `.tools/`. */
  from: 'env' | 'path' | 'local';
  /** In words: `ETCD_3_6_BIN`, `PATH, reports 3.6.7`, `.tools/etcd-3.6 -> ~/.cache/...`. */
  why: string;
  /** The version it reports (read from the manifest for local copies); undefined when not asked yet. */
  version?: string;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

const probed = new Map<string, string | undefined>();

/** The version a binary reports (memoized per file and modification time), or undefined when it reports none. */
export function reportedVersion(path: string, binary: BinarySpec): string | undefined {
  const stat = statSync(path);
  const key = `${path}\0${stat.mtimeMs}\0${stat.size}\0${binary.versionArgs.join(' ')}`;
  if (!probed.has(key)) {
    const r = spawnSync(path, binary.versionArgs, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
    probed.set(key, binary.versionPattern.exec(`${r.stdout ?? ''}\n${r.stderr ?? ''}`)?.[1]);
  }
  return probed.get(key);
}

/** True when `version` (3.6.7) is on `line` (3.6, or 3). */
export function onLine(version: string | undefined, line: string): boolean {
  return version !== undefined && (version === line || version.startsWith(`${line}.`));
}

function fromVariable(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const value = env[name];
  if (!value) return undefined;
  if (!isExecutable(value)) throw new FleetError('tool_missing', `${name}=${value} is not an executable file`);
  return value;
}

/** The project-local copy of a tool: `.tools/ID`, when it links to a complete cache entry of the pinned version. */
export function localEntry(spec: ToolSpec, toolsDir: string = TOOLS_DIR): { dir: string; version: string } | undefined {
  const dir = join(toolsDir, spec.id);
  const manifest = readManifest(dir);
  if (!manifest) return undefined;
  const current = spec.version ? manifest.version === spec.version : onLine(manifest.version, spec.line);
  return current ? { dir, version: manifest.version } : undefined;
}

function findUsers(spec: ToolSpec, binary: BinarySpec, env: NodeJS.ProcessEnv, first?: FoundBinary): FoundBinary | undefined {
  for (const name of binary.env) {
    const path = fromVariable(name, env);
    if (path) return { path, from: 'env', why: name };
  }
  for (const name of binary.envIfOnLine ?? []) {
    const path = fromVariable(name, env);
    const version = path ? reportedVersion(path, binary) : undefined;
    if (path && onLine(version, spec.line)) return { path, from: 'env', why: `${name}, reports ${version}`, version };
  }
  // The other binaries of a tool are also looked for beside the first one the user named (etcdctl beside etcd).
  if (first?.from === 'env') {
    const beside = join(dirname(first.path), binary.name);
    if (isExecutable(beside)) return { path: beside, from: 'env', why: `beside ${first.why.split(',')[0]}` };
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const path = dir ? join(dir, binary.name) : '';
    if (!path || !isExecutable(path)) continue;
    const version = reportedVersion(path, binary);
    if (onLine(version, spec.line)) return { path, from: 'path', why: `PATH, reports ${version}`, version };
  }
  return undefined;
}

/**
 * Finds each binary of a tool, in the order of {@link ToolSpec.binaries}: the user's own (variable, beside the
 * first one named by a variable, PATH on the right line), else the project-local copy; undefined where none.
 */
export function findBinaries(spec: ToolSpec, env: NodeJS.ProcessEnv = process.env, toolsDir: string = TOOLS_DIR): (FoundBinary | undefined)[] {
  const local = localEntry(spec, toolsDir);
  const found: (FoundBinary | undefined)[] = [];
  for (const binary of spec.binaries) {
    const users = findUsers(spec, binary, env, found[0]);
    const localPath = local && join(local.dir, 'bin', binary.name);
    if (users) found.push(users);
    else if (localPath && isExecutable(localPath)) found.push({ path: localPath, from: 'local', why: `${local.dir} -> ${realpathSync(local.dir)}`, version: local.version });
    else found.push(undefined);
  }
  return found;
}

/** A tool the user has not provided and `npm run tools` has not provisioned. */
export class ToolMissingError extends FleetError {
  constructor(
    readonly tool: string,
    spec: ToolSpec,
    env: NodeJS.ProcessEnv = process.env,
    toolsDir: string = TOOLS_DIR,
  ) {
    const binary = spec.binaries.find((b) => b.name === tool);
    const generic = binary?.envIfOnLine?.length ? ` (or ${binary.envIfOnLine.join(' or ')} naming ${tool} ${spec.line}.x)` : '';
    const yours = binary ? `set ${binary.env.join(' or ')}${generic}, put ${tool} ${spec.line}.x on PATH, or ` : '';
    const run = spec.optional ? `\`npm run tools -- --with ${spec.id}\`` : '`npm run tools`';
    super(
      'tool_missing',
      `${tool} was not found (wanted: ${spec.title}): ${yours}run ${run} to build ${spec.version ?? 'a copy'} into ${toolsCacheRoot(env)}, linked from ${join(toolsDir, spec.id)}`,
    );
  }
}

function requireAll(spec: ToolSpec, env: NodeJS.ProcessEnv, toolsDir: string): FoundBinary[] {
  return findBinaries(spec, env, toolsDir).map((f, i) => {
    if (!f) throw new ToolMissingError(spec.binaries[i]!.name, spec, env, toolsDir);
    return f;
  });
}

/** The version of a found binary: from the manifest or the PATH check, else asked of the binary itself. */
function versionOf(found: FoundBinary, binary: BinarySpec): string {
  const version = found.version ?? reportedVersion(found.path, binary);
  if (!version) throw new FleetError('tool_missing', `${found.path} (${found.why}) did not report its version with \`${binary.name} ${binary.versionArgs.join(' ')}\``);
  return version;
}

function specOf(tool: ToolName): ToolSpec {
  if (tool === 'etcd' || tool === 'etcdctl' || tool === 'etcdutl') return toolSpec('etcd-3.5');
  return TOOLS.find((t) => t.binaries.some((b) => b.name === tool))!;
}

/** Finds one binary (see {@link findBinaries}); the etcd tools are those of the 3.5 line. Undefined when missing. */
export function locateTool(tool: ToolName, env: NodeJS.ProcessEnv = process.env, toolsDir: string = TOOLS_DIR): string | undefined {
  const spec = specOf(tool);
  const found = findBinaries(spec, env, toolsDir);
  return found[spec.binaries.findIndex((b) => b.name === tool)]?.path;
}

/** Like {@link locateTool}, but a missing tool is an error that says how to provide it. */
export function requireTool(tool: ToolName, env: NodeJS.ProcessEnv = process.env, toolsDir: string = TOOLS_DIR): string {
  const found = locateTool(tool, env, toolsDir);
  if (!found) throw new ToolMissingError(tool, specOf(tool), env, toolsDir);
  return found;
}

/** The etcd server, etcdctl and etcdutl of one line, and the version the server reports (`3.6.7`). */
export function requireEtcd(line: EtcdLine, env: NodeJS.ProcessEnv = process.env, toolsDir: string = TOOLS_DIR): { etcd: string; etcdctl: string; etcdutl: string; version: string } {
  const spec = toolSpec(`etcd-${line}`);
  const [etcd, etcdctl, etcdutl] = requireAll(spec, env, toolsDir) as [FoundBinary, FoundBinary, FoundBinary];
  return { etcd: etcd.path, etcdctl: etcdctl.path, etcdutl: etcdutl.path, version: versionOf(etcd, spec.binaries[0]!) };
}

/** The Kubernetes control-plane binaries, and the version kube-apiserver reports (`1.37.2`). */
export function requireKubernetes(env: NodeJS.ProcessEnv = process.env, toolsDir: string = TOOLS_DIR): { kubeApiserver: string; kubeControllerManager: string; kubeScheduler: string; version: string } {
  const spec = toolSpec('kubernetes');
  const [apiserver, controllerManager, scheduler] = requireAll(spec, env, toolsDir) as [FoundBinary, FoundBinary, FoundBinary];
  return { kubeApiserver: apiserver.path, kubeControllerManager: controllerManager.path, kubeScheduler: scheduler.path, version: versionOf(apiserver, spec.binaries[0]!) };
}

/** kwok, its version, and the stage definition files to pass to it (`-c FILE` each, or comma-separated). */
export function requireKwok(env: NodeJS.ProcessEnv = process.env, toolsDir: string = TOOLS_DIR): { kwok: string; stages: string[]; version: string } {
  const spec = toolSpec('kwok');
  const [kwok] = requireAll(spec, env, toolsDir) as [FoundBinary];
  const stagesSpec = toolSpec('kwok-stages');
  const stages = localEntry(stagesSpec, toolsDir);
  if (!stages) throw new ToolMissingError('kwok-stages', stagesSpec, env, toolsDir);
  const dir = join(stages.dir, 'stages');
  return { kwok: kwok.path, stages: readdirSync(dir).sort().map((f) => join(dir, f)), version: versionOf(kwok, spec.binaries[0]!) };
}
