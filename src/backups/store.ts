import type { Readable } from 'node:stream';
import { FleetError } from '../errors';
import { FileStore } from './stores/file';
import { S3Store } from './stores/s3';

/**
 * Where snapshots live: a directory (`file:///var/backups/talos`) or an S3 bucket (`s3://bucket/prefix?endpoint=...`).
 * Keys are relative (`prod/prod-20261201T030000Z-3f2a.snap.age`). Objects appear whole or not at all: a failed
 * upload leaves nothing under its key (a file store's temporary file and an S3 multipart upload are removed).
 */
export interface SnapshotStore {
  /** The store's URL without credentials, for messages. */
  readonly url: string;
  /** Writes a stream under `key`; it becomes visible only once complete. Returns its size. */
  upload(key: string, body: Readable): Promise<{ bytes: number }>;
  /** Reads an object; `snapshot_missing` when there is none. */
  download(key: string): Promise<Readable>;
  /** Writes a small text object atomically (metadata records). */
  writeText(key: string, text: string): Promise<void>;
  /** Reads a small text object; undefined when absent. */
  readText(key: string): Promise<string | undefined>;
  /** Keys under a prefix (`prod/`), in no particular order. */
  list(prefix: string): Promise<string[]>;
  /** Deletes an object; absent is fine. */
  remove(key: string): Promise<void>;
}

/** Store errors, by what the operator has to do about them. */
export class StoreError extends FleetError {
  constructor(code: 'store_unreachable' | 'store_full' | 'store_denied' | 'store_misconfigured' | 'snapshot_missing', message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super(code, message, opts);
  }
}

/** Opens the store a URL names; credentials for S3 come from the environment or AWS's files (never the URL). */
export function openStore(url: string, env: NodeJS.ProcessEnv = process.env): SnapshotStore {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StoreError('store_misconfigured', `backup store "${url}" is not a URL: use file:///absolute/dir or s3://bucket/prefix?endpoint=https://host`);
  }
  if (parsed.username || parsed.password) throw new StoreError('store_misconfigured', 'a backup store URL must not hold credentials: put them in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or an AWS credentials file');
  if (parsed.protocol === 'file:') return new FileStore(parsed);
  if (parsed.protocol === 's3:') return new S3Store(parsed, env);
  throw new StoreError('store_misconfigured', `backup store ${parsed.protocol}// is not supported: use file:// or s3://`);
}
