import { execFileSync } from 'node:child_process';
import { chmodSync, createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { main } from '../../src/cli/main';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { HeadObjectCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { AgeIdentity } from '../../src/backups/age';
import { listSnapshots, objectKey, writeRecord } from '../../src/backups/catalog';
import { censusOf, snapshotStatus } from '../../src/backups/census';
import { readBack, uploadSnapshot } from '../../src/backups/pipeline';
import { openStore, type SnapshotStore } from '../../src/backups/store';
import type { SnapshotMetadata } from '../../src/shared/backups';
import { requireEtcd, requireTool } from '../../src/tools/binaries';
import { startTestEtcd } from '../support/etcd';
import { waitUntil } from '../support/fleet';
import { startTestS3, type TestS3 } from '../support/s3';

jest.setTimeout(120_000);

let dir: string;
let snapshot: string;
let identity: AgeIdentity;
let identityFile: string;
let recipient: string;
let s3: TestS3;
const savedEnv = { ...process.env };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'talos-fleet-pipeline-'));
  const etcd = await startTestEtcd(join(dir, 'etcd'));
  try {
    for (let i = 0; i < 300; i++) await etcd.client.put(`/registry/configmaps/default/cm-${i}`, Buffer.from(`value ${i}`));
    for (let i = 0; i < 20; i++) await etcd.client.put(`/registry/example.com/widgets/default/w-${i}`, Buffer.from('d'));
    for (let i = 0; i < 50; i++) await etcd.client.put(`/app/key-${i}`, Buffer.from('x'.repeat(1000)));
    snapshot = join(dir, 'db.snapshot');
    await etcd.snapshot(snapshot);
  } finally {
    await etcd.stop();
  }
  identityFile = join(dir, 'identity.txt');
  execFileSync(requireTool('age-keygen'), ['-o', identityFile], { stdio: 'pipe' });
  chmodSync(identityFile, 0o600);
  recipient = /public key: (age1\S+)/.exec(readFileSync(identityFile, 'utf8'))![1]!;
  identity = AgeIdentity.fromFile(identityFile);
  mkdirSync(join(dir, 'files'));
  s3 = await startTestS3(join(dir, 's3'));
  Object.assign(process.env, s3.env);
});

afterAll(async () => {
  process.env = savedEnv;
  await s3?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function meta(id: string, compression: 'none' | 'zstd', stored: Awaited<ReturnType<typeof uploadSnapshot>>): SnapshotMetadata {
  return {
    id,
    cluster: 'c1',
    node: 'cp-1',
    takenAt: new Date().toISOString(),
    object: objectKey('c1', id, compression),
    ...stored,
    compression,
    recipients: [recipient],
    versions: { talos: 'v1.10.9', etcd: '3.5.33' },
    verification: { status: 'unverified' },
    trigger: 'manual',
    requester: 'test',
  };
}

async function store(store: SnapshotStore, id: string, compression: 'none' | 'zstd'): Promise<SnapshotMetadata> {
  const stored = await uploadSnapshot({ source: createReadStream(snapshot), store, key: objectKey('c1', id, compression), recipients: [recipient], compression, what: `snapshot ${id}` });
  const m = meta(id, compression, stored);
  await writeRecord(store, m);
  return m;
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe.each([
  ['a directory', () => openStore(`file://${join(dir, 'files')}`)],
  ['an S3 bucket (Versity Gateway on loopback)', () => openStore(s3.url('talos'))],
])('the snapshot pipeline into %s', (_name, open) => {
  it.each(['none', 'zstd'] as const)('stores a snapshot (compression %s) that Debian age decrypts, etcdutl reads, and a read-back verifies', async (compression) => {
    const st = open();
    const m = await store(st, `c1-20261201T03000${compression === 'zstd' ? 1 : 0}Z-abcd`, compression);
    expect(m.sha256).toBe(sha256(snapshot));
    expect(m.bytes).toBe(readFileSync(snapshot).length);
    const { storedSha256 } = await readBack({ store: st, meta: m, identity });
    // The standard tools, one after the other, as an operator would at 3 a.m.
    const out = mkdtempSync(join(dir, 'out-'));
    const object = join(out, `${m.id}.age`);
    const source = await st.download(m.object);
    await new Promise<void>((resolve, reject) => source.pipe(createWriteStream(object)).on('finish', resolve).on('error', reject));
    // The read-back's hash of the stored object (what its verification records) is what sha256sum prints.
    expect(sha256(object)).toBe(storedSha256);
    const decrypted = join(out, `${m.id}.out`);
    execFileSync(requireTool('age'), ['-d', '-i', identityFile, '-o', compression === 'zstd' ? `${decrypted}.zst` : decrypted, object]);
    if (compression === 'zstd') execFileSync(requireTool('zstd'), ['-q', '-d', `${decrypted}.zst`, '-o', decrypted]);
    expect(sha256(decrypted)).toBe(m.sha256);
    const status = await snapshotStatus(decrypted, '3.5');
    expect(status.totalKey).toBeGreaterThan(370);
    expect(readdirSync(dir).some((f) => f.includes('.part'))).toBe(false);
  });

  it('lists only snapshots whose upload completed: a stream that fails its trailer check leaves nothing behind', async () => {
    const st = open();
    const before = await listSnapshots(st, 'c1');
    const whole = readFileSync(snapshot);
    const truncated = Readable.from([whole.subarray(0, whole.length - 4096)]);
    await expect(uploadSnapshot({ source: truncated, store: st, key: objectKey('c1', 'c1-bad', 'none'), recipients: [recipient], compression: 'none', what: 'snapshot c1-bad' })).rejects.toMatchObject({ code: 'snapshot_corrupt' });
    const tampered = Buffer.from(whole);
    tampered[5000]! ^= 0xff;
    await expect(uploadSnapshot({ source: Readable.from([tampered]), store: st, key: objectKey('c1', 'c1-bad2', 'none'), recipients: [recipient], compression: 'none', what: 'snapshot c1-bad2' })).rejects.toThrow(/fails etcd's integrity check/);
    expect((await st.list('c1/')).filter((k) => k.includes('bad'))).toEqual([]);
    expect((await listSnapshots(st, 'c1')).map((s) => s.id)).toEqual(before.map((s) => s.id));
  });

  it('refuses a stored object that was altered, cut short, or is read with the wrong key', async () => {
    const st = open();
    const m = await store(st, 'c1-20261201T040000Z-abcd', 'none');
    const object = (await st.download(m.object)).toArray();
    const bytes = Buffer.concat((await object) as Buffer[]);
    const altered = Buffer.from(bytes);
    altered[bytes.length - 1000]! ^= 1;
    await st.upload(m.object, Readable.from([altered]));
    await expect(readBack({ store: st, meta: m, identity })).rejects.toMatchObject({ code: 'snapshot_corrupt' });
    await st.upload(m.object, Readable.from([bytes.subarray(0, bytes.length - 70_000)]));
    await expect(readBack({ store: st, meta: m, identity })).rejects.toMatchObject({ code: 'snapshot_corrupt' });
    const other = join(mkdtempSync(join(dir, 'other-')), 'identity.txt');
    execFileSync(requireTool('age-keygen'), ['-o', other], { stdio: 'pipe' });
    chmodSync(other, 0o600);
    await st.upload(m.object, Readable.from([bytes]));
    await expect(readBack({ store: st, meta: m, identity: AgeIdentity.fromFile(other) })).rejects.toMatchObject({ code: 'wrong_key' });
    const { storedSha256 } = await readBack({ store: st, meta: m, identity });
    // Once verified, the record holds the object's hash: another object (even one that decrypts) is refused.
    await expect(readBack({ store: st, meta: { ...m, storedSha256: createHash('sha256').update('another object').digest('hex') }, identity })).rejects.toThrow(/the stored object's SHA-256 is .*, its record says/);
    await readBack({ store: st, meta: { ...m, storedSha256 }, identity });
  });
});

describe('talos-fleet snapshots', () => {
  it('lists a cluster\'s snapshots from its store, newest first, with their verification', async () => {
    const inventory = join(dir, 'fleet.yaml');
    writeFileSync(
      inventory,
      stringify({
        clusters: [{ name: 'c1', endpoint: 'https://10.0.0.1:6443', talosVersion: 'v1.10.9', secrets: 's.yaml', talosconfig: 'tc', nodes: [{ name: 'cp-1', address: '10.0.0.1', role: 'controlplane' }], policy: { approvers: ['a'] }, backups: { store: `file://${join(dir, 'files')}`, recipients: [recipient], identity: identityFile } }],
      }),
    );
    const out: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
    try {
      expect(await main(['snapshots', 'c1', '--inventory', inventory])).toBe(0);
      expect(await main(['snapshots', 'c1', '--inventory', inventory, '--json'])).toBe(0);
    } finally {
      write.mockRestore();
    }
    const [table, json] = [out[0]!, out.slice(1).join('')];
    expect(table.split('\n')[0]).toMatch(/^ID +TAKEN +FROM +SIZE +STORED +KEYS +STATUS +DRILL +BY$/);
    const listed = JSON.parse(json) as { id: string; verification: { status: string } }[];
    expect(listed.length).toBeGreaterThanOrEqual(3);
    expect(listed.map((x) => x.id)).toEqual(expect.arrayContaining(['c1-20261201T030001Z-abcd', 'c1-20261201T030000Z-abcd']));
    expect(table).toContain('unverified');
  });
});

/** An etcd-shaped snapshot of `mib` MiB (random 512-byte blocks and etcd's SHA-256 trailer), or one whose trailer is wrong. */
function largeSnapshot(mib: number, trailer: 'valid' | 'wrong'): Buffer {
  const body = randomBytes(mib * 1024 * 1024);
  const sum = createHash('sha256').update(body).digest();
  if (trailer === 'wrong') sum[0]! ^= 0xff;
  return Buffer.concat([body, sum]);
}

describe('multipart uploads into S3', () => {
  const client = () => new S3Client({ endpoint: s3.endpoint, region: s3.env.AWS_REGION, forcePathStyle: true, credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY } });

  it('sends a snapshot larger than a part as parts (its part buffers reused), and a read-back verifies every byte', async () => {
    const st = openStore(s3.url('multipart'));
    const whole = largeSnapshot(12, 'valid');
    // 1 MiB reads, as a stream delivers them: the parts are cut across them.
    const source = Readable.from(Array.from({ length: Math.ceil(whole.length / (1 << 20)) }, (_, i) => whole.subarray(i << 20, (i + 1) << 20)));
    const stored = await uploadSnapshot({ source, store: st, key: objectKey('c1', 'c1-large', 'none'), recipients: [recipient], compression: 'none', what: 'snapshot c1-large' });
    expect(stored.bytes).toBe(whole.length);
    expect(stored.sha256).toBe(createHash('sha256').update(whole).digest('hex'));
    const head = await client().send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `multipart/${objectKey('c1', 'c1-large', 'none')}` }));
    // A multipart ETag names its part count: 12 MiB and age's overhead in 5 MiB parts are 3.
    expect(head.ETag).toMatch(/-3"$/);
    expect(head.ContentLength).toBe(stored.storedBytes);
    await readBack({ store: st, meta: { ...meta('c1-large', 'none', stored), object: objectKey('c1', 'c1-large', 'none') }, identity });
  });

  it('stops downloading an object whose read-back fails in its first chunk: no connection is left holding it', async () => {
    const st = openStore(s3.url('early'));
    const key = objectKey('c1', 'c1-early', 'none');
    const whole = largeSnapshot(12, 'valid');
    const stored = await uploadSnapshot({ source: Readable.from([whole]), store: st, key, recipients: [recipient], compression: 'none', what: 'snapshot c1-early' });
    // Altered where the gateway keeps it (objects are files under its directory): the first age chunk fails.
    const file = join(s3.dir, s3.bucket, 'early', key);
    const bytes = readFileSync(file);
    bytes[400]! ^= 1;
    writeFileSync(file, bytes);
    const port = Number(new URL(s3.endpoint).port);
    // Connections to the gateway that are open, from /proc (remote port `port`, state ESTABLISHED).
    const open = () => readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).filter((l) => { const f = l.trim().split(/\s+/); return f[2]?.endsWith(`:${port.toString(16).toUpperCase().padStart(4, '0')}`) && f[3] === '01'; }).length;
    const before = open();
    for (let i = 0; i < 4; i++) await expect(readBack({ store: st, meta: { ...meta('c1-early', 'none', stored), object: key }, identity })).rejects.toThrow('fails authentication');
    await waitUntil('the failed downloads to let their connections go', async () => open() <= before + 1, 10_000);
  });

  it('writes a snapshot larger than a flush into a directory, flushed to disk while it streams, and a read-back verifies every byte', async () => {
    const st = openStore(`file://${join(dir, 'files')}`);
    // 40 MiB: the file store flushes what it has written every 32 MiB while the upload goes on.
    const whole = largeSnapshot(40, 'valid');
    const source = Readable.from(Array.from({ length: Math.ceil(whole.length / (1 << 20)) }, (_, i) => whole.subarray(i << 20, (i + 1) << 20)));
    const stored = await uploadSnapshot({ source, store: st, key: objectKey('c1', 'c1-large-file', 'none'), recipients: [recipient], compression: 'none', what: 'snapshot c1-large-file' });
    expect(stored.sha256).toBe(createHash('sha256').update(whole).digest('hex'));
    expect(statSync(join(dir, 'files', objectKey('c1', 'c1-large-file', 'none'))).size).toBe(stored.storedBytes);
    await readBack({ store: st, meta: { ...meta('c1-large-file', 'none', stored), object: objectKey('c1', 'c1-large-file', 'none') }, identity });
  });

  it('aborts the upload when the stream fails after its first parts were sent: no object, no unfinished upload left', async () => {
    const st = openStore(s3.url('multipart-failed'));
    const s3client = client();
    const uploads = async () => (await s3client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: 'multipart-failed/' }))).Uploads ?? [];
    const whole = largeSnapshot(12, 'valid');
    // The node goes away mid-stream, once the store holds an unfinished upload with parts in it.
    async function* failing(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 11; i++) yield whole.subarray(i << 20, (i + 1) << 20);
      await waitUntil('the store to hold an unfinished upload', async () => (await uploads()).length === 1, 30_000);
      throw new Error('the node went away mid-stream');
    }
    await expect(uploadSnapshot({ source: Readable.from(failing()), store: st, key: objectKey('c1', 'c1-cut', 'none'), recipients: [recipient], compression: 'none', what: 'snapshot c1-cut' })).rejects.toThrow('the node went away mid-stream');
    expect(await st.list('c1/')).toEqual([]);
    expect(await uploads()).toEqual([]);
  });
});

describe('stores that cannot take a snapshot', () => {
  it('reports an unreachable S3 endpoint as retryable, with no credentials in the message', async () => {
    const st = openStore('s3://snapshots/talos?endpoint=http://127.0.0.1:9');
    const err = await uploadSnapshot({ source: createReadStream(snapshot), store: st, key: 'c1/x.snap.age', recipients: [recipient], compression: 'none', what: 'snapshot x' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'store_unreachable', retryable: true });
    expect(String((err as Error).message)).not.toContain(s3.env.AWS_SECRET_ACCESS_KEY);
  });

  it('refuses a file store whose directory is missing at once, stops reading the snapshot and creates nothing', async () => {
    const root = join(dir, 'not-mounted');
    const st = openStore(`file://${root}`);
    // More than the stages buffer: the stream can only end if something reads it or stops it.
    const whole = largeSnapshot(12, 'valid');
    const source = Readable.from(Array.from({ length: 12 }, (_, i) => whole.subarray(i << 20, (i + 1) << 20)));
    const err = await uploadSnapshot({ source, store: st, key: objectKey('c1', 'c1-nowhere', 'none'), recipients: [recipient], compression: 'none', what: 'snapshot c1-nowhere' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'store_misconfigured' });
    expect((err as Error).message).toBe(`backup store file://${root} does not exist: create the directory (or mount the disk it is on)`);
    expect(source.destroyed).toBe(true);
    expect(existsSync(root)).toBe(false);
  });

  it('reports a full disk as store_full and leaves no partial file (a 64 KiB tmpfs)', async () => {
    const mount = join(dir, 'tiny');
    mkdirSync(mount);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mount]);
    } catch {
      process.stdout.write('skipped: mounting a tmpfs needs root\n');
      return;
    }
    try {
      expect(readFileSync(snapshot).length).toBeGreaterThan(64 * 1024);
      const st = openStore(`file://${mount}`);
      await expect(uploadSnapshot({ source: createReadStream(snapshot), store: st, key: 'c1/x.snap.age', recipients: [recipient], compression: 'none', what: 'snapshot x' })).rejects.toMatchObject({ code: 'store_full' });
      expect(readdirSync(join(mount, 'c1'))).toEqual([]);
    } finally {
      execFileSync('umount', [mount]);
    }
  });
});

describe('the census of a snapshot', () => {
  it('restores it into a throwaway etcd of its version and counts keys, registry resources and keys created up to a revision', async () => {
    const census = await censusOf(snapshot, '3.5', { createdUpTo: 10_000 });
    expect(census.etcdVersion).toBe(requireEtcd('3.5').version);
    expect(census.keys).toBe(370);
    expect(census.registry).toEqual({ present: true, keys: 320, resources: { configmaps: 300, 'example.com/widgets': 20 } });
    expect(census.revision).toBeGreaterThanOrEqual(371);
    expect(census.upTo).toMatchObject({ keys: 370, volatile: 0 });
    const none = await censusOf(snapshot, '3.5', { createdUpTo: 100 });
    expect(none.upTo!.keys).toBe(99);
    expect(existsSync(join(dir, 'census'))).toBe(false);
  });
});
