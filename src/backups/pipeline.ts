import { PassThrough, Writable, type Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FleetError } from '../errors';
import type { SnapshotMetadata } from '../shared/backups';
import { ageDecrypter, ageEncrypter, type AgeIdentity } from './age';
import { Sha256Counter, SnapshotIntegrity } from './integrity';
import { StoreError, type SnapshotStore } from './store';
import { zstdCompressor, zstdDecompressor } from './zstd';

/**
 * The snapshot pipeline, in both directions, as one stream each with constant memory:
 * etcd snapshot → SHA-256 + etcd trailer check → zstd (optional) → age → store, and back:
 * store → age → zstd → SHA-256 + trailer check → a sink (nothing, a file for a census, or EtcdRecover).
 */

/**
 * What an upload produced: the snapshot's size and hash, and the stored object's size. The stored object's own hash
 * is not computed here: age authenticates every chunk and its header, and the verification that follows every
 * upload reads each stored byte back, so it computes that hash once, from bytes it has proven, and records it.
 */
export interface StoredSnapshot {
  bytes: number;
  sha256: string;
  storedBytes: number;
}

/** Streams a snapshot into the store under `key`; the trailer check failing (or any stage) leaves no object. */
export async function uploadSnapshot(opts: { source: Readable; store: SnapshotStore; key: string; recipients: string[]; compression: 'none' | 'zstd'; what: string; onProgress?: (bytes: number) => void }): Promise<StoredSnapshot> {
  const integrity = new SnapshotIntegrity(opts.what, opts.onProgress);
  const stages: Transform[] = [integrity];
  if (opts.compression === 'zstd') stages.push(zstdCompressor() as Transform);
  const encrypted = await ageEncrypter(opts.recipients);
  // One chain, every stage's error fails the whole: the store sees the error and keeps nothing.
  const chain = pipeline([opts.source, ...stages, encrypted]);
  // A store that gives up without reading to the end (its directory is missing, S3 refused) stops the chain, which
  // would otherwise wait on it for ever; that also cancels the snapshot stream.
  const upload = opts.store.upload(opts.key, encrypted).catch((err: unknown) => {
    encrypted.destroy(err as Error);
    throw err;
  });
  const [c, u] = await Promise.allSettled([chain, upload]);
  // A store that failed (full, unreachable) says so; otherwise the stream's own failure (a refused trailer, a lost
  // node) is the cause, which the store then only saw as a broken stream.
  if (u.status === 'rejected' && u.reason instanceof StoreError) throw u.reason;
  if (c.status === 'rejected') throw c.reason;
  if (u.status === 'rejected') throw u.reason;
  return { ...integrity.digest, storedBytes: u.value.bytes };
}

/** Opens a stored snapshot as its plaintext etcd snapshot (a Readable that fails if anything does not check out). */
export async function openSnapshot(opts: { store: SnapshotStore; meta: SnapshotMetadata; identity: AgeIdentity; onProgress?: (bytes: number) => void }): Promise<{ stream: Readable; done: () => { stored: Sha256Counter; integrity: SnapshotIntegrity } }> {
  const what = `snapshot ${opts.meta.id}`;
  const source = await opts.store.download(opts.meta.object);
  const stored = new Sha256Counter(opts.onProgress);
  const integrity = new SnapshotIntegrity(what);
  const stages: Transform[] = [stored, ageDecrypter(opts.identity, what)];
  if (opts.meta.compression === 'zstd') stages.push(zstdDecompressor() as Transform);
  stages.push(integrity);
  // The caller reads the last stage; pipeline destroys every stage with the first error, so it reaches the reader.
  const out = new PassThrough({ highWaterMark: 64 * 1024 });
  pipeline([source, ...stages, out]).catch(() => undefined);
  return { stream: out, done: () => ({ stored, integrity }) };
}

/**
 * Reads a stored snapshot back into `sink` (a file, or nothing) and checks every hash against its record; returns
 * the stored object's SHA-256 (a record that has none yet, one never verified, gets it from here).
 */
export async function readBack(opts: { store: SnapshotStore; meta: SnapshotMetadata; identity: AgeIdentity; sink?: Writable; onProgress?: (bytes: number) => void }): Promise<{ storedSha256: string }> {
  const { stream, done } = await openSnapshot(opts);
  const sink = opts.sink ?? new Writable({ write: (_c, _e, cb) => cb() });
  await pipeline(stream, sink);
  const { stored, integrity } = done();
  const meta = opts.meta;
  const problems = [
    meta.storedSha256 !== undefined && stored.sha256 !== meta.storedSha256 ? `the stored object's SHA-256 is ${stored.sha256.slice(0, 12)}…, its record says ${meta.storedSha256.slice(0, 12)}…` : '',
    integrity.digest.sha256 !== meta.sha256 ? `the snapshot's SHA-256 is ${integrity.digest.sha256.slice(0, 12)}…, its record says ${meta.sha256.slice(0, 12)}…` : '',
    integrity.digest.bytes !== meta.bytes ? `the snapshot has ${integrity.digest.bytes} bytes, its record says ${meta.bytes}` : '',
    stored.bytes !== meta.storedBytes ? `the stored object has ${stored.bytes} bytes, its record says ${meta.storedBytes}` : '',
  ].filter(Boolean);
  if (problems.length) throw new FleetError('snapshot_corrupt', `snapshot ${meta.id} does not match its record: ${problems.join('; ')}`);
  return { storedSha256: stored.sha256 };
}
