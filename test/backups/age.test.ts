import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { AgeIdentity, ageDecrypter, ageEncrypter } from '../../src/backups/age';
import { requireTool } from '../../src/tools/binaries';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'talos-fleet-age-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh identity from Debian's age-keygen; returns its file and public key. */
function keygen(name: string): { file: string; recipient: string } {
  const file = join(dir, name);
  execFileSync(requireTool('age-keygen'), ['-o', file], { stdio: 'pipe' });
  chmodSync(file, 0o600);
  return { file, recipient: /public key: (age1\S+)/.exec(readFileSync(file, 'utf8'))![1]! };
}

async function collect(source: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(source, new Writable({ write: (c: Buffer, _e, cb) => (parts.push(c), cb()) }));
  return Buffer.concat(parts);
}

describe('age encryption of a stream', () => {
  it.each([0, 1, 65_536, 65_537, 3 * 65_536, 200_003])('encrypts %i bytes so that Debian age decrypts them, and decrypts what Debian age encrypts', async (size) => {
    const a = keygen(`a-${size}`);
    const b = keygen(`b-${size}`);
    const plain = randomBytes(size);
    const sealed = await collect(Readable.from([plain]).pipe(await ageEncrypter([a.recipient, b.recipient])));
    writeFileSync(join(dir, `sealed-${size}`), sealed);
    // Either recipient can open it with the standard tool.
    for (const key of [a, b]) expect(execFileSync(requireTool('age'), ['-d', '-i', key.file, join(dir, `sealed-${size}`)]).equals(plain)).toBe(true);
    // And the other way round, chunked oddly.
    writeFileSync(join(dir, `plain-${size}`), plain);
    execFileSync(requireTool('age'), ['-r', a.recipient, '-o', join(dir, `by-age-${size}`), join(dir, `plain-${size}`)]);
    const byAge = readFileSync(join(dir, `by-age-${size}`));
    const pieces = [byAge.subarray(0, 7), byAge.subarray(7, 1000), byAge.subarray(1000)];
    expect((await collect(Readable.from(pieces).pipe(ageDecrypter(AgeIdentity.fromFile(a.file), 'test file')))).equals(plain)).toBe(true);
  });

  it('encrypts the same bytes however they are split: whole chunks in the input, chunks across pieces, and both mixed', async () => {
    const a = keygen('split');
    const plain = randomBytes(6 * 65_536 + 123);
    const at = (...cuts: number[]) => [0, ...cuts, plain.length].slice(1).map((end, i, ends) => plain.subarray(i === 0 ? 0 : ends[i - 1]!, end));
    const splits = [
      at(65_536, 3 * 65_536), // whole chunks, one piece holding two
      at(1000, 1000 + 2 * 65_536, 5 * 65_536 + 7), // whole chunks that start inside a piece, after buffered bytes
      at(65_535, 65_537, 4 * 65_536), // a chunk completed by one byte, then one whole in the rest
      at(6 * 65_536), // the last whole chunk followed by a short tail in its own piece
    ];
    for (const [i, pieces] of splits.entries()) {
      const sealed = await collect(Readable.from(pieces).pipe(await ageEncrypter([a.recipient])));
      writeFileSync(join(dir, `split-${i}`), sealed);
      expect(execFileSync(requireTool('age'), ['-d', '-i', a.file, join(dir, `split-${i}`)]).equals(plain)).toBe(true);
    }
    // Ending on a whole chunk: that chunk is the last one (age refuses a file whose last chunk is empty).
    const whole = plain.subarray(0, 2 * 65_536);
    const sealed = await collect(Readable.from([whole.subarray(0, 65_536), whole.subarray(65_536)]).pipe(await ageEncrypter([a.recipient])));
    const headerEnd = sealed.indexOf('\n', sealed.indexOf('\n--- ') + 1) + 1;
    expect(sealed.length - headerEnd - 16).toBe(2 * (65_536 + 16)); // after the nonce: two sealed chunks, no empty third
    writeFileSync(join(dir, 'split-whole'), sealed);
    expect(execFileSync(requireTool('age'), ['-d', '-i', a.file, join(dir, 'split-whole')]).equals(whole)).toBe(true);
  });

  it('refuses a file encrypted to someone else, an altered chunk and a truncated file, each with its own message', async () => {
    const mine = keygen('mine');
    const theirs = keygen('theirs');
    const plain = randomBytes(150_000);
    const sealed = await collect(Readable.from([plain]).pipe(await ageEncrypter([theirs.recipient])));
    const open = (bytes: Buffer) => collect(Readable.from([bytes]).pipe(ageDecrypter(AgeIdentity.fromFile(mine.file), 'snapshot x')));
    await expect(open(sealed)).rejects.toMatchObject({ code: 'wrong_key', message: expect.stringMatching(/snapshot x was not encrypted to the configured age identity/) as unknown });
    const forTheirs = (bytes: Buffer) => collect(Readable.from([bytes]).pipe(ageDecrypter(AgeIdentity.fromFile(theirs.file), 'snapshot x')));
    const altered = Buffer.from(sealed);
    altered[altered.length - 70_000]! ^= 1;
    await expect(forTheirs(altered)).rejects.toMatchObject({ code: 'snapshot_corrupt', message: expect.stringMatching(/fails authentication/) as unknown });
    await expect(forTheirs(sealed.subarray(0, sealed.length - 65_552))).rejects.toMatchObject({ code: 'snapshot_corrupt' });
    await expect(forTheirs(sealed.subarray(0, 40))).rejects.toMatchObject({ code: 'snapshot_corrupt', message: expect.stringMatching(/ends inside its age header/) as unknown });
  });

  it('keeps the identity out of messages and JSON, and refuses an identity file others can read', () => {
    const key = keygen('secret');
    const identity = AgeIdentity.fromFile(key.file);
    expect(JSON.stringify({ identity })).not.toMatch(/AGE-SECRET-KEY/);
    chmodSync(key.file, 0o644);
    expect(() => AgeIdentity.fromFile(key.file)).toThrow(/readable by others \(mode 644\): chmod 600 it/);
  });
});
