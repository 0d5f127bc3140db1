import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { Readable } from 'node:stream';
import { FleetError } from '../errors';

/** Talos sends the admin kubeconfig as a .tar.gz holding one file named `kubeconfig`; this returns its text. */
export async function extractKubeconfig(tarGz: Buffer): Promise<string> {
  let tar: Buffer;
  try {
    tar = gunzipSync(tarGz);
  } catch (err) {
    throw new FleetError('bad_kubeconfig', 'the node sent a kubeconfig that is not gzip data', { cause: err });
  }
  const ex = extract();
  const found = new Promise<string | undefined>((resolve, reject) => {
    let text: string | undefined;
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => void chunks.push(c as Buffer));
      stream.on('end', () => {
        if (header.name.replace(/^\.\//, '') === 'kubeconfig') text = Buffer.concat(chunks).toString('utf8');
        next();
      });
      stream.resume();
    });
    ex.on('finish', () => resolve(text));
    ex.on('error', reject);
  });
  Readable.from([tar]).pipe(ex);
  const text = await found;
  if (text === undefined) throw new FleetError('bad_kubeconfig', 'the kubeconfig archive from the node has no `kubeconfig` file');
  return text;
}
