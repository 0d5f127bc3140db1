import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool } from '../../src/tools/binaries';
import { spawnGuarded, type GuardedChild } from '../../src/tools/children';
import { freePort } from './temporal';

/** A real S3 server on loopback (Versity Gateway over a directory) with a bucket and credentials of its own. */
export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** The credentials, as the AWS SDK reads them from the environment. */
  env: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string; AWS_REGION: string };
  /** `s3://bucket/prefix?endpoint=...` */
  url(prefix?: string): string;
  /** The directory the gateway serves (objects are files under `dir/bucket/`). */
  dir: string;
  stop(): Promise<void>;
}

/** Starts versitygw (the provisioned binary) serving `dir`, waits until it answers, and creates a bucket. */
export async function startTestS3(dir: string): Promise<TestS3> {
  mkdirSync(dir, { recursive: true });
  const env = { AWS_ACCESS_KEY_ID: `test${randomBytes(4).toString('hex')}`, AWS_SECRET_ACCESS_KEY: randomBytes(16).toString('hex'), AWS_REGION: 'us-east-1' };
  const port = await freePort();
  const log = join(dir, '..', `versitygw-${port}.log`);
  const fd = openSync(log, 'a');
  const gw: GuardedChild = spawnGuarded(requireTool('versitygw'), ['--port', `127.0.0.1:${port}`, '--access', env.AWS_ACCESS_KEY_ID, '--secret', env.AWS_SECRET_ACCESS_KEY, '--quiet', 'posix', dir], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ endpoint, region: env.AWS_REGION, forcePathStyle: true, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY }, maxAttempts: 1 });
  const bucket = 'snapshots';
  const deadline = Date.now() + 30_000;
  let exited = false;
  void gw.exited.then(() => (exited = true));
  for (;;) {
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      break;
    } catch (err) {
      if (exited || Date.now() > deadline) throw new Error(`versitygw did not come up at ${endpoint}: ${(err as Error).message}\n${readFileSync(log, 'utf8').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  client.destroy();
  return {
    endpoint,
    bucket,
    env,
    dir,
    url: (prefix = 'talos') => `s3://${bucket}/${prefix}?endpoint=${endpoint}`,
    async stop() {
      gw.child.kill('SIGTERM');
      await gw.exited;
    },
  };
}
