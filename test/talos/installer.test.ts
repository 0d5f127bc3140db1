import { InstallerFailedError, installerProgress, type InstallerProgress } from '../../src/talos/installer';

async function* stream(...items: { message?: string; exitCode?: number; response?: string }[]) {
  for (const i of items) yield i;
}

async function run(...items: { message?: string; exitCode?: number; response?: string }[]): Promise<{ out: InstallerProgress[]; error?: unknown }> {
  const out: InstallerProgress[] = [];
  try {
    for await (const p of installerProgress('10.5.0.3', stream(...items))) out.push(p);
    return { out };
  } catch (error) {
    return { out, error };
  }
}

const line = (message: string) => ({ message: `${message}\n`, response: 'message' });
const exit = (exitCode: number) => ({ exitCode, response: 'exitCode' });

describe('installer output from LifecycleService', () => {
  it('yields each line without its newline, then the exit code 0', async () => {
    expect((await run(line('pulling'), line('installing'), exit(0))).out).toEqual([{ line: 'pulling' }, { line: 'installing' }, { exitCode: 0 }]);
  });

  it('turns a non-zero exit code into installer_failed, naming the node, the class and the last line', async () => {
    const { out, error } = await run(line('error: disk /dev/sdz not found'), exit(4));
    expect(out).toEqual([{ line: 'error: disk /dev/sdz not found' }]);
    expect(error).toBeInstanceOf(InstallerFailedError);
    expect(error).toMatchObject({ code: 'installer_failed', exitCode: 4, node: '10.5.0.3', retryable: false, message: 'installer on node 10.5.0.3 exited with code 4 (environment): error: disk /dev/sdz not found' });
  });

  it('counts a failed pull (dependency) and I/O as retryable, invalid input and unsupported as not', async () => {
    const verdicts = await Promise.all([5, 6, 2, 3, 1].map(async (code) => ((await run(exit(code))).error as InstallerFailedError).retryable));
    expect(verdicts).toEqual([true, true, false, false, false]);
  });

  it('fails a stream that ends without an exit code (the node went away mid-install)', async () => {
    expect((await run(line('installing'))).error).toMatchObject({ code: 'unexpected_reply', message: expect.stringMatching(/ended without an exit code \(last line: installing\)/) as unknown });
  });
});
