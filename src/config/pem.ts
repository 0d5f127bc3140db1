import { createPrivateKey } from 'node:crypto';

/** One PEM block: its label (`CERTIFICATE`, `EC PRIVATE KEY`, ...) and its DER body. */
export interface PemBlock {
  label: string;
  der: Buffer;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g;

/** Every well-formed PEM block in `text`, in order; text outside blocks is ignored, as Go's pem.Decode does. */
export function decodePemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = m[2]!.replace(/\s+/g, '');
    const der = decodeBase64Strict(body);
    if (der && der.length > 0) blocks.push({ label: m[1]!, der });
  }
  return blocks;
}

/** PEM text the way Go's pem.EncodeToMemory writes it: 64-character lines and a trailing newline. */
export function encodePem(label: string, der: Buffer): string {
  const body = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/**
 * Standard base64 decoding that refuses anything a Go decoder would refuse (wrong alphabet, bad padding),
 * so a truncated or mangled field is reported instead of silently decoding to garbage.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** Talos writes Ed25519 private keys with the non-standard `ED25519 PRIVATE KEY` label; Node/OpenSSL only loads `PRIVATE KEY`. */
export function toNodePem(pem: string): string {
  return pem.replace(/-----(BEGIN|END) ED25519 PRIVATE KEY-----/g, '-----$1 PRIVATE KEY-----');
}

/** Ed25519 PKCS#8 keys get the `ED25519 PRIVATE KEY` label Talos writes; every other PEM is returned unchanged. */
export function toTalosPem(pem: string): string {
  const blocks = decodePemBlocks(pem);
  const [block] = blocks;
  if (blocks.length !== 1 || block === undefined || block.label !== 'PRIVATE KEY') return pem;
  try {
    const key = createPrivateKey({ key: block.der, format: 'der', type: 'pkcs8' });
    if (key.asymmetricKeyType !== 'ed25519') return pem;
  } catch {
    return pem;
  }
  return encodePem('ED25519 PRIVATE KEY', block.der);
}
