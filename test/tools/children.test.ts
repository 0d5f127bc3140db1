import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runGuarded, spawnGuarded } from '../../src/tools/children';
import { waitUntil } from '../support/fleet';

/** True once `pid` no longer runs: gone from /proc, or a zombie waiting for a reaper. */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

describe('spawnGuarded', () => {
  it('takes its child along when the parent is killed with SIGKILL', async () => {
    // A parent that starts a long sleep through spawnGuarded, reports it, and waits to be killed.
    const script = `
      const { spawnGuarded } = require(${JSON.stringify(join(__dirname, '..', '..', 'src', 'tools', 'children.ts'))});
      const { child, guard } = spawnGuarded('sleep', ['600'], { stdio: 'ignore' });
      process.stdout.write(JSON.stringify({ pid: child.pid, guard }) + '\\n');
      setInterval(() => undefined, 1000);
    `;
    const parent = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      parent.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      parent.once('exit', (code) => reject(new Error(`the parent exited with ${code} before reporting its child`)));
    });
    const { pid, guard } = JSON.parse(line) as { pid: number; guard: string };
    // setpriv (util-linux) is what makes this hold on SIGKILL; without it only a normal exit takes the child along.
    expect(guard).toBe('pdeathsig');
    expect(gone(pid)).toBe(false);
    const exited = new Promise((resolve) => parent.once('exit', resolve));
    parent.kill('SIGKILL');
    await exited;
    await waitUntil(`the guarded child ${pid} to die with its parent`, () => gone(pid), 10_000);
  });

  it('refuses a program that does not exist, naming it', () => {
    expect(() => spawnGuarded('/nonexistent/etcd', [])).toThrow('cannot run /nonexistent/etcd: it does not exist or is not executable');
    expect(() => spawnGuarded('no-such-program-anywhere', [])).toThrow('cannot run no-such-program-anywhere: not found on PATH');
  });

  it('tells how a child ended', async () => {
    const { exited } = spawnGuarded('sh', ['-c', 'exit 3'], { stdio: 'ignore' });
    expect(await exited).toEqual({ code: 3, signal: null });
    await expect(runGuarded('sh', ['-c', 'echo broken >&2; exit 1'])).rejects.toThrow('sh -c failed (exit code 1): broken');
    await expect(runGuarded('sh', ['-c', 'echo fine'])).resolves.toEqual({ stdout: 'fine\n', stderr: '' });
  });
});
