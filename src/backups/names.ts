/** Checks of backup settings that need no I/O and no heavy module (the inventory schema uses them). */

const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

/** True when `text` is an age X25519 recipient (`age1...`), the kind the standard `age` tool decrypts to. */
export function isAgeRecipient(text: string): boolean {
  return X25519_RECIPIENT.test(text);
}

/** Problems with a store URL, for the inventory's validation (no I/O). */
export function storeUrlProblem(url: string): string | undefined {
  try {
    const u = new URL(url);
    if (u.username || u.password) return 'must not hold credentials (use the environment or an AWS credentials file)';
    if (u.protocol === 'file:') return u.hostname && u.hostname !== 'localhost' ? 'file:// URLs name a local directory: file:///absolute/path' : undefined;
    if (u.protocol === 's3:') {
      if (!u.hostname) return 's3:// URLs name a bucket: s3://bucket/prefix';
      const endpoint = u.searchParams.get('endpoint');
      if (endpoint && !/^https?:\/\//.test(endpoint)) return `endpoint ${endpoint} must be an http:// or https:// URL`;
      return undefined;
    }
    return `${u.protocol}// is not a store: use file:// or s3://`;
  } catch {
    return 'is not a URL: use file:///absolute/dir or s3://bucket/prefix?endpoint=https://host';
  }
}
