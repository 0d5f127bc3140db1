import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, fdatasync, type WriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { StoreError, type SnapshotStore } from '../store';

const WRITE_BUFFER_BYTES = 1024 * 1024;
/** Written data is flushed to disk every this many bytes while the upload goes on. */
const FLUSH_BYTES = 32 * 1024 * 1024;

/**
 * Passes an upload through to its file while flushing what was written so far (fdatasync, one at a time) every
 * FLUSH_BYTES: the disk writes while the snapshot still streams, so the final fsync has little left to do, and a
 * large snapshot does not pile up dirty pages in memory. A failed flush fails the upload.
 */
class Flusher extends Transform {
  private since = 0;
  private flushing?: Promise<void>;
  private fd?: number;

  constructor(file: WriteStream) {
    super({ highWaterMark: WRITE_BUFFER_BYTES });
    file.once('open', (fd: number) => (this.fd = fd));
    file.once('close', () => (this.fd = undefined));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.since += chunk.length;
    const fd = this.fd;
    if (this.since >= FLUSH_BYTES && !this.flushing && typeof fd === 'number') {
      this.since = 0;
      this.flushing = new Promise<void>((resolve) =>
        fdatasync(fd, (err) => {
          this.flushing = undefined;
          if (err) this.destroy(err);
          resolve();
        }),
      );
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    void (this.flushing ?? Promise.resolve()).then(() => callback());
  }
}

/** The `StoreError` an fs error means (a full disk, no permission, a missing directory). */
function fsError(err: unknown, what: string): StoreError {
  const code = (err as NodeJS.ErrnoException).code;
  if (err instanceof StoreError) return err;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new StoreError('store_full', `${what}: the store is full (${code}); free space or prune old snapshots, nothing was kept`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return new StoreError('store_denied', `${what}: permission denied (${code})`, { cause: err });
  if (code === 'ENOENT') return new StoreError('snapshot_missing', `${what}: not found`, { cause: err });
  return new StoreError('store_unreachable', `${what}: ${(err as Error).message}`, { retryable: true, cause: err });
}

/** Writes an fsync'd file under a temporary name, renames it into place and fsyncs the directory (atomic on POSIX). */
async function atomically(root: string, path: string, write: (temp: string) => Promise<void>): Promise<void> {
  // The store's own directory must exist: creating it would hide a backup disk that is not mounted.
  try {
    await stat(root);
  } catch {
    throw new StoreError('store_misconfigured', `backup store file://${root} does not exist: create the directory (or mount the disk it is on)`);
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = join(dirname(path), `.${randomBytes(6).toString('hex')}.part`);
  try {
    await write(temp);
    const fd = await open(temp, 'r+');
    try {
      await fd.sync();
    } finally {
      await fd.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** A store in a local directory (or a mounted file system: NFS, a backup disk). */
export class FileStore implements SnapshotStore {
  readonly url: string;
  private readonly root: string;

  constructor(url: URL) {
    this.root = resolve(fileURLToPath(url));
    this.url = `file://${this.root}`;
  }

  private path(key: string, allowRoot = false): string {
    const path = resolve(this.root, key);
    if (!(path.startsWith(this.root + sep) || (allowRoot && path === this.root))) throw new StoreError('store_misconfigured', `key ${key} is outside the store`);
    return path;
  }

  async upload(key: string, body: Readable): Promise<{ bytes: number }> {
    const path = this.path(key);
    try {
      // A 1 MiB buffer lets the stream gather age's 64 KiB chunks and their tags into one writev: a third of the CPU
      // of writing each as it comes (default 16 KiB), measured in docs/benchmarks.md.
      await atomically(this.root, path, (temp) => {
        const file = createWriteStream(temp, { flags: 'wx', mode: 0o600, highWaterMark: WRITE_BUFFER_BYTES });
        return pipeline(body, new Flusher(file), file);
      });
      return { bytes: (await stat(path)).size };
    } catch (err) {
      // The source's own error (the snapshot stream, the encryption) is not the store's.
      if (!(err as NodeJS.ErrnoException).syscall) throw err;
      throw fsError(err, `writing ${key} to ${this.url}`);
    }
  }

  async download(key: string): Promise<Readable> {
    const path = this.path(key);
    try {
      await stat(path);
    } catch (err) {
      throw fsError(err, `${key} in ${this.url}`);
    }
    return createReadStream(path, { highWaterMark: 256 * 1024 });
  }

  async writeText(key: string, text: string): Promise<void> {
    const path = this.path(key);
    try {
      await atomically(this.root, path, async (temp) => {
        const fd = await open(temp, 'wx', 0o600);
        try {
          await fd.writeFile(text);
        } finally {
          await fd.close();
        }
      });
    } catch (err) {
      throw fsError(err, `writing ${key} to ${this.url}`);
    }
  }

  async readText(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(key), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(err, `reading ${key} from ${this.url}`);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const dir = this.path(prefix.replace(/\/+$/, '') || '.', true);
    try {
      const entries = await readdir(dir, { withFileTypes: true });
      return entries.filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => relative(this.root, join(dir, e.name)).split(sep).join('/'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        // A missing cluster directory is an empty list; a missing store is a misconfiguration.
        try {
          await stat(this.root);
          return [];
        } catch {
          throw new StoreError('store_misconfigured', `backup store ${this.url} does not exist: create the directory (or mount the disk it is on)`);
        }
      }
      throw fsError(err, `listing ${prefix} in ${this.url}`);
    }
  }

  async remove(key: string): Promise<void> {
    try {
      await rm(this.path(key), { force: true });
    } catch (err) {
      throw fsError(err, `deleting ${key} from ${this.url}`);
    }
  }
}
