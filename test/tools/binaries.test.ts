import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { locateTool, requireEtcd, requireTool, ToolMissingError, TOOLS_DIR } from '../../src/tools/binaries';
import { toolSpec } from '../../src/tools/catalog';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'talos-fleet-tools-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A fake executable in a fresh directory that prints `output` whatever it is asked. */
function fakeTool(name: string, output = 'fake'): string {
  const bin = mkdtempSync(join(dir, 'bin-'));
  const path = join(bin, name);
  writeFileSync(path, `#!/bin/sh\necho '${output}'\n`);
  chmodSync(path, 0o755);
  return path;
}

/** A `.tools/` holding a complete entry for tool `id` at `version`, with fake binaries. */
function fakeToolsDir(id: string, version: string, binaries: string[]): string {
  const tools = mkdtempSync(join(dir, 'tools-'));
  const entry = join(tools, `cache-${id}`);
  mkdirSync(join(entry, 'bin'), { recursive: true });
  for (const b of binaries) {
    writeFileSync(join(entry, 'bin', b), '#!/bin/sh\necho local\n');
    chmodSync(join(entry, 'bin', b), 0o755);
  }
  writeFileSync(join(entry, 'tool.json'), JSON.stringify({ id, version, source: 'test', builtAt: '', buildSeconds: 0, binaries }));
  symlinkSync(entry, join(tools, id));
  return tools;
}

const dirOf = (path: string): string => join(path, '..');

describe('finding the external tools', () => {
  it("takes the user's binary named by the environment variable first, then PATH, then the project-local copy", () => {
    const tools = fakeToolsDir('temporal', '1.9.1', ['temporal']);
    const onPath = fakeTool('temporal', 'temporal version 1.9.1 (Server 1.31.0, UI 2.45.3)');
    const named = fakeTool('my-temporal');
    expect(locateTool('temporal', { PATH: dirOf(onPath), TEMPORAL_CLI_PATH: named }, tools)).toBe(named);
    expect(locateTool('temporal', { PATH: dirOf(onPath) }, tools)).toBe(onPath);
    expect(locateTool('temporal', { PATH: '' }, tools)).toBe(join(tools, 'temporal', 'bin', 'temporal'));
  });

  it('passes over a binary on PATH whose version is not the one needed (an etcd 3.4 is not the 3.5 line)', () => {
    const tools = fakeToolsDir('etcd-3.5', '3.5.33', ['etcd', 'etcdctl', 'etcdutl']);
    const etcd34 = fakeTool('etcd', 'etcd Version: 3.4.23');
    expect(locateTool('etcd', { PATH: dirOf(etcd34) }, tools)).toBe(join(tools, 'etcd-3.5', 'bin', 'etcd'));
    expect(locateTool('etcd', { PATH: dirOf(etcd34) }, mkdtempSync(join(dir, 'empty-')))).toBeUndefined();
  });

  it('uses an etcd on PATH for the line it reports', () => {
    const etcd36 = fakeTool('etcd', 'etcd Version: 3.6.5');
    const tools = fakeToolsDir('etcd-3.6', '3.6.7', ['etcd', 'etcdctl', 'etcdutl']);
    expect(requireEtcd('3.6', { PATH: dirOf(etcd36) }, tools)).toEqual({
      etcd: etcd36,
      etcdctl: join(tools, 'etcd-3.6', 'bin', 'etcdctl'),
      etcdutl: join(tools, 'etcd-3.6', 'bin', 'etcdutl'),
      version: '3.6.5',
    });
  });

  it('counts a plain ETCD_BIN only for the line its --version reports, and a per-line variable always', () => {
    const etcd37 = fakeTool('etcd', 'etcd Version: 3.7.1');
    const tools35 = fakeToolsDir('etcd-3.5', '3.5.33', ['etcd', 'etcdctl', 'etcdutl']);
    expect(locateTool('etcd', { PATH: '', ETCD_BIN: etcd37 }, tools35)).toBe(join(tools35, 'etcd-3.5', 'bin', 'etcd'));
    const tools37 = fakeToolsDir('etcd-3.7', '3.7.1', ['etcd', 'etcdctl', 'etcdutl']);
    expect(requireEtcd('3.7', { PATH: '', ETCD_BIN: etcd37 }, tools37).etcd).toBe(etcd37);
    const mine = fakeTool('etcd', 'etcd Version: 3.5.21');
    expect(locateTool('etcd', { PATH: '', ETCD_BIN: etcd37, ETCD_3_5_BIN: mine }, tools35)).toBe(mine);
  });

  it('finds etcdctl and etcdutl beside the etcd named by a variable', () => {
    const etcd = fakeTool('etcd', 'etcd Version: 3.6.7');
    for (const name of ['etcdctl', 'etcdutl']) {
      writeFileSync(join(dirOf(etcd), name), '#!/bin/sh\n');
      chmodSync(join(dirOf(etcd), name), 0o755);
    }
    const found = requireEtcd('3.6', { PATH: '', ETCD_3_6_BIN: etcd }, mkdtempSync(join(dir, 'empty-')));
    expect(found).toEqual({ etcd, etcdctl: join(dirOf(etcd), 'etcdctl'), etcdutl: join(dirOf(etcd), 'etcdutl'), version: '3.6.7' });
  });

  it('refuses an environment variable that does not point to an executable, naming the variable', () => {
    expect(() => locateTool('etcd', { PATH: '', ETCD_BIN: join(dir, 'missing') })).toThrow(/ETCD_BIN=.*missing is not an executable file/);
    expect(() => requireTool('kube-apiserver', { PATH: '', KUBE_APISERVER_BIN: dir })).toThrow(/KUBE_APISERVER_BIN=.* is not an executable file/);
  });

  it('does not take a project-local copy of another version, or one whose build never finished', () => {
    const stale = fakeToolsDir('kubernetes', '1.36.3', ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']);
    expect(locateTool('kube-apiserver', { PATH: '' }, stale)).toBeUndefined();
    const unfinished = fakeToolsDir('kwok', '0.8.0', ['kwok']);
    rmSync(join(unfinished, 'cache-kwok', 'tool.json'));
    expect(locateTool('kwok', { PATH: '' }, unfinished)).toBeUndefined();
  });

  it('says how to provide a tool it cannot find: the variables, PATH, and what `npm run tools` builds where', () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    const env = { PATH: '', TALOS_FLEET_TOOLS_CACHE: join(dir, 'cache') };
    expect(() => requireEtcd('3.6', env, empty)).toThrow(ToolMissingError);
    expect(() => requireEtcd('3.6', env, empty)).toThrow(
      `etcd was not found (wanted: etcd 3.6 line (etcd, etcdctl, etcdutl)): set ETCD_3_6_BIN (or ETCD_BIN naming etcd 3.6.x), put etcd 3.6.x on PATH, or run \`npm run tools\` to build 3.6.7 into ${join(dir, 'cache')}, linked from ${join(empty, 'etcd-3.6')}`,
    );
    expect(() => requireTool('talosctl', env, empty)).toThrow(/set TALOSCTL, put talosctl 1\.10\.x on PATH, or run `npm run tools -- --with talosctl`/);
    expect(new ToolMissingError('kwok', toolSpec('kwok')).message).toContain(join(TOOLS_DIR, 'kwok'));
  });
});
