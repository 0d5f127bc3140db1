import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import type { Recipient } from 'age-encryption';
import { FleetError } from '../errors';
import { SnapshotIntegrityError } from './integrity';
import { isAgeRecipient } from './names';

/**
 * age encryption (age-encryption.org/v1), as a pair of streams whose memory does not depend on the file's size.
 *
 * The header (the file key wrapped to each X25519 recipient, its HMAC) comes from `age-encryption`, the reference
 * TypeScript implementation by age's author. The payload is age's STREAM (64 KiB ChaCha20-Poly1305 chunks, an
 * 11-byte counter and a last-chunk flag as nonce) done with node:crypto: the library's own streaming API keeps
 * memory flat too, but its pure-JavaScript ChaCha20 runs at 67 MB/s on the project's machine against OpenSSL's
 * 700, which would make encryption the slowest step of a snapshot (docs/benchmarks.md). Files decrypt with `age -d`.
 */

const CHUNK = 64 * 1024;
const TAG = 16;
const NONCE = 16;
/** Longest header accepted while looking for its end (a header holds a few lines per recipient). */
const MAX_HEADER = 64 * 1024;
const X25519_IDENTITY = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;

/** The age-encryption module, loaded on first use (it is an ES module; Node loads it through require). */
async function ageModule(): Promise<typeof import('age-encryption')> {
  return import('age-encryption');
}

/** The age identity used to decrypt: never logged, never passed to a workflow. */
export class AgeIdentity {
  private constructor(private readonly key: string) {}

  /** Reads an identity file as age-keygen writes it (comments, then `AGE-SECRET-KEY-1...`); errors name the file only. */
  static fromFile(path: string): AgeIdentity {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new FleetError('file_unreadable', `age identity ${path} ${code === 'ENOENT' ? 'does not exist' : 'is not readable'}`);
    }
    const mode = statSync(path).mode & 0o077;
    if (mode !== 0) throw new FleetError('identity_exposed', `age identity ${path} is readable by others (mode ${(statSync(path).mode & 0o777).toString(8)}): chmod 600 it`);
    const keys = text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('AGE-SECRET-KEY-'));
    if (keys.length === 0 || !keys.every((k) => X25519_IDENTITY.test(k))) {
      throw new FleetError('invalid_identity', `age identity ${path} holds no X25519 identity (a line AGE-SECRET-KEY-1... as age-keygen writes)`);
    }
    return new AgeIdentity(keys[0]!);
  }

  /** The public key (`age1...`) of this identity. */
  async recipient(): Promise<string> {
    return (await ageModule()).identityToRecipient(this.key);
  }

  /** The file key of an age header, or a clear error: not one of its recipients, or a header that was altered. */
  async unwrap(header: Uint8Array, what: string): Promise<Uint8Array> {
    const decrypter = new (await ageModule()).Decrypter();
    decrypter.addIdentity(this.key);
    try {
      return await decrypter.decryptHeader(header);
    } catch (err) {
      const message = (err as Error).message;
      if (/no identity matched/.test(message)) throw new FleetError('wrong_key', `${what} was not encrypted to the configured age identity: it cannot be decrypted with it (check the cluster's backups.identity and recipients)`);
      throw new SnapshotIntegrityError(`${what} has an invalid age header (${message}): altered or not an age file`);
    }
  }

  /** Keeps the key out of logs and JSON. */
  toJSON(): string {
    return '[age identity]';
  }
}

/** The payload key, as a KeyObject: a raw key would be turned into one again for every 64 KiB chunk (costly on Node 24). */
function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32)));
}

/** The 12-byte nonce of chunk `counter`: an 11-byte big-endian counter and the last-chunk flag. */
function chunkNonce(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(counter, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Encrypts a stream to age recipients: the header and nonce first, then 64 KiB STREAM chunks. */
export async function ageEncrypter(recipients: string[]): Promise<Transform> {
  if (recipients.length === 0) throw new FleetError('invalid_input', 'age encryption needs at least one recipient');
  const bad = recipients.filter((r) => !isAgeRecipient(r));
  if (bad.length) throw new FleetError('invalid_input', `not age X25519 recipients: ${bad.join(', ')}`);
  const { Encrypter } = await ageModule();
  const encrypter = new Encrypter();
  // A recipient that wraps nothing and keeps the file key: the library writes the header (the real recipients'
  // stanzas and the MAC) and the payload nonce; the payload itself is encrypted below.
  let fileKey: Uint8Array | undefined;
  const keeper: Recipient = {
    wrapFileKey(key) {
      fileKey = Uint8Array.from(key);
      return [];
    },
  };
  encrypter.addRecipient(keeper);
  for (const r of recipients) encrypter.addRecipient(r);
  const empty = await encrypter.encrypt(new Uint8Array(0));
  // header ‖ nonce ‖ one empty last chunk (its 16-byte tag): keep the first two.
  const prefix = Buffer.from(empty.subarray(0, empty.length - TAG));
  const key = payloadKey(fileKey!, prefix.subarray(prefix.length - NONCE));
  return new AgeStreamEncrypt(prefix, key);
}

class AgeStreamEncrypt extends Transform {
  private readonly buffer = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  /** A whole chunk not sealed yet: only more data shows it is not the last. Input memory, or `buffer` itself. */
  private held?: Buffer;
  private counter = 0;

  constructor(
    private prefix: Buffer | undefined,
    private readonly key: KeyObject,
  ) {
    super();
  }

  /**
   * Seals one chunk: its ciphertext, then its tag, handed on as they are. Gathering them into bigger pieces cost more
   * than it saved once no hash followed this stage: on Node 24 the extra 256 KiB allocations alone doubled the GC's
   * share (docs/benchmarks.md); the stores write or copy what they get in pieces anyway.
   */
  private seal(plaintext: Buffer, last: boolean): void {
    const cipher = createCipheriv('chacha20-poly1305', this.key, chunkNonce(this.counter++, last), { authTagLength: TAG });
    this.push(cipher.update(plaintext));
    cipher.final();
    this.push(cipher.getAuthTag());
  }

  private start(): void {
    if (this.prefix) {
      this.push(this.prefix);
      this.prefix = undefined;
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.start();
    let offset = 0;
    while (offset < chunk.length) {
      // More data: the chunk held back is not the last one.
      if (this.held) {
        this.seal(this.held, false);
        this.held = undefined;
      }
      if (this.used === 0 && chunk.length - offset >= CHUNK) {
        // A whole chunk in the input is sealed where it is, without a copy (the snapshot stream's chunks line up).
        this.held = chunk.subarray(offset, offset + CHUNK);
        offset += CHUNK;
        continue;
      }
      const n = Math.min(CHUNK - this.used, chunk.length - offset);
      chunk.copy(this.buffer, this.used, offset, offset + n);
      this.used += n;
      offset += n;
      if (this.used === CHUNK) {
        // Sealed (at the top of the loop, or at the end) before the buffer is written again.
        this.held = this.buffer;
        this.used = 0;
      }
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.start();
    // The last chunk is the one held back, or what the buffer holds (empty only for an empty stream).
    this.seal(this.held ?? this.buffer.subarray(0, this.used), true);
    callback();
  }
}

/** Decrypts an age stream with `identity`; a wrong key, an altered header or chunk, or a truncated file fail the stream. */
export function ageDecrypter(identity: AgeIdentity, what: string): Transform {
  return new AgeStreamDecrypt(identity, what);
}

class AgeStreamDecrypt extends Transform {
  private head: Buffer[] = [];
  private headBytes = 0;
  private key?: KeyObject;
  private readonly buffer = Buffer.allocUnsafe(CHUNK + TAG);
  private used = 0;
  private counter = 0;

  constructor(
    private readonly identity: AgeIdentity,
    private readonly what: string,
  ) {
    super();
  }

  private open(sealed: Buffer, last: boolean): Buffer {
    if (sealed.length < TAG) throw new SnapshotIntegrityError(`${this.what} is truncated: its last age chunk is ${sealed.length} bytes`);
    const decipher = createDecipheriv('chacha20-poly1305', this.key!, chunkNonce(this.counter++, last), { authTagLength: TAG });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG)), decipher.final()]);
    } catch {
      throw new SnapshotIntegrityError(`${this.what} does not decrypt: age chunk ${this.counter - 1} fails authentication (altered${last ? ' or truncated' : ''})`);
    }
  }

  /** Collects the header and nonce; returns what follows them once the file key is known. */
  private async header(chunk: Buffer): Promise<Buffer | undefined> {
    this.head.push(chunk);
    this.headBytes += chunk.length;
    const joined = Buffer.concat(this.head);
    const mac = joined.indexOf('\n--- ');
    const end = mac < 0 ? -1 : joined.indexOf('\n', mac + 1);
    if (end < 0 || joined.length < end + 1 + NONCE) {
      if (this.headBytes > MAX_HEADER) throw new SnapshotIntegrityError(`${this.what} is not an age file: no header end in its first ${MAX_HEADER} bytes`);
      const magic = 'age-encryption.org/v1';
      if (!magic.startsWith(joined.subarray(0, magic.length).toString('latin1'))) {
        throw new SnapshotIntegrityError(`${this.what} is not an age file (it does not start with age-encryption.org/v1)`);
      }
      return undefined;
    }
    this.head = [];
    const fileKey = await this.identity.unwrap(joined.subarray(0, end + 1), this.what);
    this.key = payloadKey(fileKey, joined.subarray(end + 1, end + 1 + NONCE));
    return joined.subarray(end + 1 + NONCE);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.key) return this.guarded(() => this.payload(chunk), callback);
    this.header(chunk).then(
      (rest) => this.guarded(() => rest && this.payload(rest), callback),
      (err: Error) => callback(err),
    );
  }

  private guarded(step: () => unknown, callback: TransformCallback): void {
    try {
      step();
    } catch (err) {
      return callback(err as Error);
    }
    callback();
  }

  private payload(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.used === this.buffer.length) {
        this.push(this.open(this.buffer, false));
        this.used = 0;
      }
      const n = Math.min(this.buffer.length - this.used, chunk.length - offset);
      chunk.copy(this.buffer, this.used, offset, offset + n);
      this.used += n;
      offset += n;
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (!this.key) throw new SnapshotIntegrityError(`${this.what} is truncated: it ends inside its age header`);
      const last = this.open(this.buffer.subarray(0, this.used), true);
      if (last.length === 0 && this.counter > 1) throw new SnapshotIntegrityError(`${this.what} is not a valid age file: its final chunk is empty`);
      this.push(last);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }
}
