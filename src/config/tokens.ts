import { randomBytes } from 'node:crypto';

/** Source of random bytes; tests inject a fixed one to get exact tokens. */
export type RandomSource = (size: number) => Buffer;

const TOKEN_CHARS = '0123456789abcdefghijklmnopqrstuvwxyz';
// 256 is not a multiple of 36: bytes from 252 up would make the first four characters likelier, so they are redrawn.
const MAX_UNBIASED_BYTE = 252;

/** The `[0-9a-z]{6}.[0-9a-z]{16}` form of kubeadm bootstrap tokens and Talos trustd tokens. */
export const TOKEN_PATTERN = /^[0-9a-z]{6}\.[0-9a-z]{16}$/;

/** What is wrong with a token that does not match {@link TOKEN_PATTERN}; never the token itself, which is a secret. */
export const TOKEN_PROBLEM = 'is not a token of the form [0-9a-z]{6}.[0-9a-z]{16} (the value is a secret and not shown)';

function randomTokenString(length: number, random: RandomSource): string {
  let out = '';
  while (out.length < length) {
    for (const b of random(length * 2)) {
      if (b < MAX_UNBIASED_BYTE) out += TOKEN_CHARS[b % TOKEN_CHARS.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A fresh bootstrap/trustd token, drawn like upstream's genToken(6, 16). */
export function generateToken(random: RandomSource = randomBytes): string {
  return `${randomTokenString(6, random)}.${randomTokenString(16, random)}`;
}
