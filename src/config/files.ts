import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FleetError } from '../errors';

/** One file to write. */
export interface OutputFile {
  path: string;
  content: string;
  /** Permission bits; secrets and talosconfigs use 0o600. */
  mode?: number;
}

/**
 * Writes several files all-or-nothing: each goes to a temporary file in its own directory first, and only when
 * all are written are they renamed into place, so a failure leaves neither partial nor half-written files.
 * Existing files are refused unless `force`, and nothing is written in that case.
 */
export function writeFilesAtomically(files: OutputFile[], opts: { force?: boolean } = {}): void {
  if (!opts.force) {
    const existing = files.filter((f) => existsSync(f.path)).map((f) => f.path);
    if (existing.length > 0) {
      throw new FleetError('file_exists', `refusing to overwrite ${existing.join(', ')}; use --force to replace`);
    }
  }
  const staged: { temp: string; path: string }[] = [];
  try {
    for (const file of files) {
      mkdirSync(dirname(file.path), { recursive: true });
      const temp = join(dirname(file.path), `.${basename(file.path)}.${randomBytes(6).toString('hex')}.tmp`);
      staged.push({ temp, path: file.path });
      const fd = openSync(temp, 'wx', file.mode ?? 0o644);
      try {
        writeSync(fd, file.content);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    for (const { temp, path } of staged) renameSync(temp, path);
  } catch (err) {
    for (const { temp } of staged) rmSync(temp, { force: true });
    if (err instanceof FleetError) throw err;
    throw new FleetError('write_failed', `cannot write ${files.map((f) => f.path).join(', ')}: ${(err as Error).message}`, { cause: err });
  }
}

/** Writes one file atomically (temporary file in the same directory, then rename); refuses to overwrite unless `force`. */
export function writeFileAtomically(path: string, content: string, opts: { force?: boolean; mode?: number } = {}): void {
  writeFilesAtomically([{ path, content, mode: opts.mode }], opts);
}
