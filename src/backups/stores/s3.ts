import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { PassThrough, type Readable } from 'node:stream';
import { SnapshotIntegrityError } from '../integrity';
import { StoreError, type SnapshotStore } from '../store';
import { uploadObject } from './multipart';

/** The `StoreError` an S3 or network failure means; messages carry the store's URL and S3's own words, never credentials. */
function s3Error(err: unknown, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const e = err as Error & { code?: string; $metadata?: { httpStatusCode?: number }; Code?: string };
  const name = e instanceof S3ServiceException ? e.name : (e.code ?? e.name);
  const status = e.$metadata?.httpStatusCode;
  const detail = `${name}${status ? ` (HTTP ${status})` : ''}: ${e.message}`;
  if (['NoSuchKey', 'NotFound'].includes(name) || status === 404 && name !== 'NoSuchBucket') return new StoreError('snapshot_missing', `${what}: not found`, { cause: err });
  if (['NoSuchBucket', 'InvalidBucketName', 'PermanentRedirect', 'AuthorizationHeaderMalformed'].includes(name)) return new StoreError('store_misconfigured', `${what}: ${detail}`, { cause: err });
  if (['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'CredentialsProviderError', 'ExpiredToken'].includes(name) || status === 403) {
    return new StoreError('store_denied', `${what}: ${detail} (check the credentials in the environment or AWS credentials file)`, { cause: err });
  }
  if (['EntityTooLarge', 'QuotaExceeded', 'InsufficientStorage', 'ENOSPC'].includes(name) || status === 507 || /no space left|quota/i.test(e.message)) {
    return new StoreError('store_full', `${what}: the store is full (${detail}); nothing was kept`, { cause: err });
  }
  return new StoreError('store_unreachable', `${what}: ${detail}`, { retryable: true, cause: err });
}

/**
 * An S3-compatible bucket (AWS, MinIO, Ceph, Versity Gateway). `s3://bucket/prefix?endpoint=http://host:port&region=r`:
 * a custom endpoint uses path-style addressing; credentials come from the SDK's default chain (environment,
 * `AWS_PROFILE`/`?profile=` in the shared files, instance roles). Uploads are multipart with three reused part
 * buffers (see uploadObject), aborted on failure, so no partial object is left.
 */
export class S3Store implements SnapshotStore {
  readonly url: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(url: URL, env: NodeJS.ProcessEnv) {
    this.bucket = url.hostname;
    this.prefix = url.pathname.replace(/^\/+|\/+$/g, '');
    const endpoint = url.searchParams.get('endpoint') ?? undefined;
    const region = url.searchParams.get('region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
    const pathStyle = url.searchParams.get('pathStyle') ?? (endpoint ? 'true' : 'false');
    const profile = url.searchParams.get('profile');
    if (profile) env.AWS_PROFILE ??= profile;
    this.url = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}${endpoint ? `?endpoint=${endpoint}` : ''}`;
    this.client = new S3Client({
      region,
      ...(endpoint ? { endpoint } : {}),
      forcePathStyle: pathStyle === 'true',
      maxAttempts: 3,
      // Every byte is covered end to end (age authenticates each chunk, and the verification after every upload reads
      // it all back and checks the hashes); the SDK's default CRC32 of every part, in JavaScript, would cost more CPU
      // than the encryption. Reads still check the checksums S3 returns (they caught tampering in tests).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
    });
  }

  private key(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  async upload(key: string, body: Readable): Promise<{ bytes: number }> {
    let sourceError: unknown;
    body.once('error', (err) => (sourceError = err));
    try {
      return await uploadObject({ client: this.client, bucket: this.bucket, key: this.key(key) }, body);
    } catch (err) {
      // The snapshot stream's own failure (a refused trailer, a lost node) is the cause, not S3.
      if (sourceError) throw sourceError as Error;
      throw s3Error(err, `uploading ${key} to ${this.url}`);
    }
  }

  async download(key: string): Promise<Readable> {
    try {
      const reply = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      const body = reply.Body as Readable;
      // The SDK checks the object against the checksum S3 stored with it, and fails the stream when they differ.
      const out = new PassThrough({ highWaterMark: 256 * 1024 });
      body.once('error', (err) => out.destroy(/checksum mismatch/i.test(err.message) ? new SnapshotIntegrityError(`${key} in ${this.url} was altered in the store: ${err.message}`) : s3Error(err, `reading ${key} from ${this.url}`)));
      // A reader that stops early (a chunk that fails its check) ends the download too: a paused one would keep its
      // connection, and enough of them would leave the client none for its next call.
      out.once('close', () => {
        if (!body.readableEnded) body.destroy();
      });
      return body.pipe(out);
    } catch (err) {
      throw s3Error(err, `${key} in ${this.url}`);
    }
  }

  async writeText(key: string, text: string): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: text, ContentType: 'application/json' }));
    } catch (err) {
      throw s3Error(err, `writing ${key} to ${this.url}`);
    }
  }

  async readText(key: string): Promise<string | undefined> {
    try {
      const reply = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return await reply.Body!.transformToString('utf8');
    } catch (err) {
      const mapped = s3Error(err, `reading ${key} from ${this.url}`);
      if (mapped.code === 'snapshot_missing') return undefined;
      throw mapped;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.key(prefix), ...(token ? { ContinuationToken: token } : {}) }));
        for (const o of page.Contents ?? []) if (o.Key) keys.push(this.prefix ? o.Key.slice(this.prefix.length + 1) : o.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw s3Error(err, `listing ${prefix} in ${this.url}`);
    }
    return keys;
  }

  async remove(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
    } catch (err) {
      throw s3Error(err, `deleting ${key} from ${this.url}`);
    }
  }
}
