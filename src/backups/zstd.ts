import { Duplex, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { FleetError } from '../errors';
import { describeExit, spawnGuarded } from '../tools/children';
import { locateTool } from '../tools/binaries';

/**
 * zstd streams. Node has zstd built in from 22.15 (`zlib.createZstdCompress`), which is used where present; on
 * Node 20 the standard `zstd` program (Debian's, found like the other tools) does the work through its stdin and
 * stdout, a guarded child that dies with us. Either way the output is a plain .zst that `zstd -d` reads, and memory
 * stays flat. No npm package: the maintained native ones need an install-time build or download, which clean
 * installs here do not run.
 */

type ZstdZlib = { createZstdCompress?: (o?: object) => Transform; createZstdDecompress?: (o?: object) => Transform };
const builtin = zlib as unknown as ZstdZlib;

/** Which implementation this process uses: `node:zlib`, or the zstd program at a path. */
export function zstdImplementation(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (builtin.createZstdCompress && builtin.createZstdDecompress) return 'node:zlib';
  return locateTool('zstd', env);
}

function program(): string {
  const found = locateTool('zstd');
  if (!found) throw new FleetError('tool_missing', `zstd compression needs Node.js 22.15 or later, or the zstd program (set ZSTD_BIN, put zstd on PATH, or run \`npm run tools\`); this is Node ${process.version}`);
  return found;
}

function child(args: string[], what: string): Duplex {
  const { child: proc, exited } = spawnGuarded(program(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const duplex = Duplex.from({ writable: proc.stdin!, readable: proc.stdout! });
  void exited.then((exit) => {
    if (exit.code !== 0) duplex.destroy(new FleetError(what === 'decompress' ? 'snapshot_corrupt' : 'zstd_failed', `zstd ${what} failed (${describeExit(exit)})${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`));
  });
  duplex.once('close', () => proc.kill('SIGKILL'));
  return duplex;
}

/** A zstd compressor (level 3, zstd's default). */
export function zstdCompressor(): Duplex {
  if (builtin.createZstdCompress) return builtin.createZstdCompress();
  return child(['-q', '-c', '-3', '-T1'], 'compress');
}

/** A zstd decompressor; a damaged frame fails the stream with `snapshot_corrupt`. */
export function zstdDecompressor(): Duplex {
  if (builtin.createZstdDecompress) {
    const d = builtin.createZstdDecompress();
    return d;
  }
  return child(['-q', '-d', '-c'], 'decompress');
}
