import { spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installEntry, linkIntoTools, readManifest, toolsCacheRoot } from '../../src/tools/cache';
import { provisionTools, ProvisionError } from '../../src/tools/provision';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'talos-fleet-cache-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const wanted = { id: 'demo', version: '1.0.0', binaries: ['demo'] };

/** A build step that writes the binary, counting its calls. */
function fakeBuild(): { calls: number; build: (staging: string) => Promise<{ source: string }> } {
  const counter = {
    calls: 0,
    build: async (staging: string) => {
      counter.calls++;
      mkdirSync(join(staging, 'bin'));
      writeFileSync(join(staging, 'bin', 'demo'), '#!/bin/sh\necho demo 1.0.0\n');
      chmodSync(join(staging, 'bin', 'demo'), 0o755);
      return { source: 'a test build' };
    },
  };
  return counter;
}

describe('the per-machine cache of built tools', () => {
  it('lives in $TALOS_FLEET_TOOLS_CACHE, else under $XDG_CACHE_HOME, else under ~/.cache', () => {
    expect(toolsCacheRoot({ TALOS_FLEET_TOOLS_CACHE: '/srv/tools' })).toBe('/srv/tools');
    expect(toolsCacheRoot({ XDG_CACHE_HOME: '/x' })).toBe('/x/talos-fleet/tools');
    expect(toolsCacheRoot({})).toMatch(/\/\.cache\/talos-fleet\/tools$/);
  });

  it('builds an entry once, with a manifest, and leaves no temporary directory behind', async () => {
    const b = fakeBuild();
    const first = await installEntry(root, 'demo-1.0.0', wanted, b.build);
    expect(first.built).toBe(true);
    expect(readManifest(join(root, 'demo-1.0.0'))).toMatchObject({ id: 'demo', version: '1.0.0', source: 'a test build', binaries: ['demo'] });
    const second = await installEntry(root, 'demo-1.0.0', wanted, b.build);
    expect(second.built).toBe(false);
    expect(b.calls).toBe(1);
    expect(readdirSync(root)).toEqual(['demo-1.0.0']);
  });

  it('leaves nothing that looks complete when a build fails, and builds again next time', async () => {
    await expect(
      installEntry(root, 'demo-1.0.0', wanted, async (staging) => {
        mkdirSync(join(staging, 'bin'));
        writeFileSync(join(staging, 'bin', 'demo'), 'half a binary');
        throw new Error('go build failed');
      }),
    ).rejects.toThrow('go build failed');
    expect(readdirSync(root)).toEqual([]);
    expect((await installEntry(root, 'demo-1.0.0', wanted, fakeBuild().build)).built).toBe(true);
  });

  it('refuses a build that finished without one of its binaries', async () => {
    await expect(installEntry(root, 'demo-1.0.0', wanted, async () => ({ source: 'nothing' }))).rejects.toThrow(/finished without demo/);
    expect(readManifest(join(root, 'demo-1.0.0'))).toBeUndefined();
  });

  it('never takes the directory of an interrupted build for a complete entry, and clears it once its process is gone', async () => {
    // A build killed half-way: its process is gone, its temporary directory is still there.
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    const abandoned = join(root, `.demo-1.0.0.partial-${dead.pid}-abc123`);
    mkdirSync(join(abandoned, 'bin'), { recursive: true });
    writeFileSync(join(abandoned, 'bin', 'demo'), 'half');
    // And an entry directory that something other than installEntry left without a manifest.
    mkdirSync(join(root, 'demo-1.0.0', 'bin'), { recursive: true });
    expect(readManifest(join(root, 'demo-1.0.0'))).toBeUndefined();

    const b = fakeBuild();
    expect((await installEntry(root, 'demo-1.0.0', wanted, b.build)).built).toBe(true);
    expect(b.calls).toBe(1);
    expect(existsSync(abandoned)).toBe(false);
    expect(readManifest(join(root, 'demo-1.0.0'))?.source).toBe('a test build');
  });

  it('waits for a build of the same entry running in another process, and uses its result', async () => {
    // The other process: a shell that "builds" for a moment, then renames its complete entry into place.
    const manifest = JSON.stringify({ ...wanted, source: 'the other build', builtAt: '', buildSeconds: 1 });
    const other = spawn('sh', ['-c', 'p="$1/.demo-1.0.0.partial-$$-xyz"; mkdir -p "$p/bin"; sleep 1; printf "%s" "$2" > "$p/tool.json"; mv "$p" "$1/demo-1.0.0"', 'sh', root, manifest]);
    const waitedFor: number[][] = [];
    const b = fakeBuild();
    while (!readdirSync(root).some((n) => n.includes('partial'))) await new Promise((r) => setTimeout(r, 20)); // until it has begun
    const result = await installEntry(root, 'demo-1.0.0', wanted, b.build, { onWait: (pids) => waitedFor.push(pids), pollMs: 50 });
    expect(waitedFor).toEqual([[other.pid]]);
    expect(b.calls).toBe(0);
    expect(result).toMatchObject({ built: false, manifest: { source: 'the other build' } });
  });

  it('keeps the entry of a concurrent build that finished first and drops its own copy', async () => {
    const other = fakeBuild();
    const result = await installEntry(root, 'demo-1.0.0', wanted, async (staging) => {
      // Another checkout's `npm run tools` completes the same entry while this build runs.
      await installEntry(root, 'demo-1.0.0', wanted, other.build);
      return fakeBuild().build(staging);
    });
    expect(result.built).toBe(false);
    expect(readdirSync(root)).toEqual(['demo-1.0.0']);
  });

  it('links an entry into .tools/, replacing an older link or a directory of the old layout', () => {
    const tools = join(root, 'tools');
    mkdirSync(join(tools, 'temporal', 'bin'), { recursive: true });
    linkIntoTools(tools, 'temporal', '/cache/temporal-1.9.1');
    expect(lstatSync(join(tools, 'temporal')).isSymbolicLink()).toBe(true);
    linkIntoTools(tools, 'temporal', '/cache/temporal-1.9.2');
    expect(readlinkSync(join(tools, 'temporal'))).toBe('/cache/temporal-1.9.2');
    expect(readdirSync(tools)).toEqual(['temporal']);
  });
});

describe('provisioning', () => {
  it('reports a failed build in one message: the tool, what was tried, the log, and how to provide it yourself', async () => {
    const env = { PATH: '', TALOS_FLEET_TOOLS_CACHE: join(root, 'cache') };
    let error: unknown;
    const lines: string[] = [];
    try {
      await provisionTools({ env, toolsDir: join(root, 'tools'), only: ['versitygw'], write: (t) => void lines.push(t) });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProvisionError);
    const message = (error as Error).message;
    expect(message).toContain('could not provide versitygw 1.8.0 (Versity Gateway');
    expect(message).toContain('tried: go build ./cmd/versitygw in a copy of github.com/versity/versitygw@v1.8.0, from the Go module proxy');
    expect(message).toContain(`log: ${join(root, 'cache', 'logs', 'versitygw-1.8.0.log')}`);
    expect(message).toContain('error: go is not installed (not found on PATH)');
    expect(message).toContain('to use your own instead: set VERSITYGW_BIN, or put versitygw 1.8.x on PATH');
    const log = join(root, 'cache', 'logs', 'versitygw-1.8.0.log');
    expect(lines).toEqual([`building for this machine, 2 at a time, into ${join(root, 'cache')} (logs in ${join(root, 'cache', 'logs')}): versitygw 1.8.0 (about 1.5 min)\n`, `versitygw 1.8.0: FAILED (${log})\n`]);
    expect(existsSync(join(root, 'tools', 'versitygw'))).toBe(false);
  });
});
