import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand, type CompletedPart, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';

/** S3's smallest part (every part but the last must be at least this). */
export const PART_BYTES = 5 * 1024 * 1024;

/** Parts sent at once while the next one fills: with one, the client waited for the store after every part. */
const PARTS_IN_FLIGHT = 2;

/**
 * Sends a snapshot's parts with `UNSIGNED-PAYLOAD` in place of their SHA-256 in the request signature (the headers are
 * still signed): that hash cost the client a second SHA-256 pass over every byte, on the one thread that also decodes
 * the snapshot stream, and the server a third to check it. It protected nothing the pipeline does not already: age
 * authenticates every 64 KiB chunk, and the verification after every upload reads the whole object back and checks
 * its hashes, so bytes altered on the way are a failed verification, never a snapshot offered for restore. (AWS's
 * Java SDK sends S3 uploads unsigned over HTTPS by default.)
 */
function unsignedPayload(command: UploadPartCommand): UploadPartCommand {
  command.middlewareStack.add(
    (next) => (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'talosFleetUnsignedPayload' },
  );
  return command;
}

/** Where an object goes. */
export interface ObjectTarget {
  client: S3Client;
  bucket: string;
  key: string;
}

/**
 * Streams `body` into one S3 object with constant memory: three part buffers, allocated once and reused for the whole
 * upload, two being sent while the next fills (memory is 15 MiB whatever the object's size; a general-purpose
 * uploader allocates every part anew, which showed as 40-95 MiB of RSS on a 1 GiB snapshot). Up to one part in all:
 * a single PutObject. A failure of the body or of S3 aborts the multipart upload, so no part is left behind and no
 * object appears; the error is the body's own when it failed first.
 */
export async function uploadObject(target: ObjectTarget, body: Readable): Promise<{ bytes: number }> {
  const { client, bucket, key } = target;
  const buffers = Array.from({ length: PARTS_IN_FLIGHT + 1 }, () => Buffer.allocUnsafe(PART_BYTES));
  let filling = 0;
  let used = 0;
  let bytes = 0;
  let uploadId: string | undefined;
  // Created once, by the first part sent (two parts may be on their way before its reply).
  let creating: Promise<string | undefined> | undefined;
  const parts: CompletedPart[] = [];
  /** The part each buffer last held, by buffer. */
  const sending: Promise<void>[] = [];

  const sendPart = async (data: Buffer): Promise<void> => {
    const number = parts.length + 1;
    parts.push({ PartNumber: number });
    creating ??= client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key })).then((r) => (uploadId = r.UploadId));
    await creating;
    const reply = await client.send(unsignedPayload(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: number, Body: data, ContentLength: data.length })));
    parts[number - 1]!.ETag = reply.ETag;
  };
  /** Sends the filled buffer, and moves on to the next one once the part it last held is done. */
  const flush = async (): Promise<void> => {
    // The buffer filled next is the oldest one sent: wait for that part.
    const next = (filling + 1) % buffers.length;
    await sending[next];
    const part = sendPart(buffers[filling]!.subarray(0, used));
    // Observed at once, awaited later: a failure while the next part fills must not be an unhandled rejection.
    part.catch(() => undefined);
    sending[filling] = part;
    filling = next;
    used = 0;
  };

  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      let offset = 0;
      while (offset < chunk.length) {
        if (used === PART_BYTES) await flush();
        const n = chunk.copy(buffers[filling]!, used, offset);
        used += n;
        offset += n;
      }
    }
    if (creating === undefined) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: buffers[filling]!.subarray(0, used), ContentLength: used }));
      return { bytes };
    }
    if (used > 0) await flush();
    await Promise.all(sending);
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    return { bytes };
  } catch (err) {
    await Promise.allSettled(sending);
    await creating?.catch(() => undefined);
    if (uploadId !== undefined) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
    throw err;
  }
}
