import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { FleetError } from '../errors';

/** etcd ends every snapshot with a SHA-256 of everything before it (32 bytes). */
export const TRAILER_BYTES = 32;

/** A snapshot whose bytes are not what they should be: tampered, truncated, or not an etcd snapshot at all. */
export class SnapshotIntegrityError extends FleetError {
  constructor(message: string) {
    super('snapshot_corrupt', message);
  }
}

/** What a stream of snapshot bytes turned out to be, once it ended. */
export interface StreamDigest {
  bytes: number;
  /** SHA-256 of every byte, trailer included (what `sha256sum db.snapshot` prints). */
  sha256: string;
}

/**
 * Passes an etcd snapshot through unchanged while hashing it, and fails the stream at its end unless the last 32
 * bytes are the SHA-256 of the rest and the size is a whole number of 512-byte blocks plus the trailer (talosctl's
 * check): so a truncated or altered snapshot is refused by the same pipeline that carries it, without a copy.
 * Memory stays constant: only the last 32 bytes are held back from the trailer hash.
 */
export class SnapshotIntegrity extends Transform {
  private readonly body: Hash = createHash('sha256');
  private tail: Buffer = Buffer.alloc(0);
  private count = 0;
  private result?: StreamDigest;

  constructor(
    private readonly what: string,
    private readonly onProgress?: (bytes: number) => void,
  ) {
    super();
  }

  /** The size and hash, once the stream has ended without an error. */
  get digest(): StreamDigest {
    if (!this.result) throw new FleetError('internal', `the digest of ${this.what} is read before its stream ended`);
    return this.result;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.count += chunk.length;
    this.onProgress?.(this.count);
    // Everything but the newest 32 bytes is part of the hashed body.
    if (chunk.length >= TRAILER_BYTES) {
      this.body.update(this.tail);
      this.body.update(chunk.subarray(0, chunk.length - TRAILER_BYTES));
      this.tail = Buffer.from(chunk.subarray(chunk.length - TRAILER_BYTES));
    } else {
      const joined = Buffer.concat([this.tail, chunk]);
      const keep = Math.min(TRAILER_BYTES, joined.length);
      this.body.update(joined.subarray(0, joined.length - keep));
      this.tail = joined.subarray(joined.length - keep);
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.count % 512 !== TRAILER_BYTES) {
      return callback(new SnapshotIntegrityError(`${this.what} is not a complete etcd snapshot: ${this.count} bytes is not a whole number of 512-byte blocks plus etcd's 32-byte SHA-256 trailer (truncated?)`));
    }
    if (!this.body.copy().digest().equals(this.tail)) {
      return callback(new SnapshotIntegrityError(`${this.what} fails etcd's integrity check: its last 32 bytes are not the SHA-256 of the rest (altered or truncated)`));
    }
    // The whole file's hash is the body's plus the trailer: one pass over the bytes, not two.
    const whole = this.body.copy().update(this.tail);
    this.result = { bytes: this.count, sha256: whole.digest('hex') };
    callback();
  }
}

/** Passes bytes through while counting and hashing them (the stored object's own hash). */
export class Sha256Counter extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;
  private hex?: string;

  constructor(private readonly onProgress?: (bytes: number) => void) {
    super();
  }

  /** The hex SHA-256 of what passed, once the stream ended. */
  get sha256(): string {
    if (this.hex === undefined) throw new FleetError('internal', 'the hash is read before its stream ended');
    return this.hex;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    this.onProgress?.(this.bytes);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.hex = this.hash.digest('hex');
    callback();
  }
}
