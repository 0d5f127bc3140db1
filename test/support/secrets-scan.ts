import type { Client } from '@temporalio/client';
import type { SecretsBundle } from '../../src/config/secrets';
import { TOKEN_PATTERN } from '../../src/config/tokens';

/** What must never appear in a workflow history: any PEM block, a kubeconfig's credentials, a Talos/Kubernetes token. */
const PATTERNS: [string, RegExp][] = [
  ['a PEM block', /-----BEGIN [A-Z0-9 ]+-----/],
  // base64 of "-----BEGIN": how key material sits inside machine configs, talosconfigs and kubeconfigs.
  ['a base64-encoded PEM block', /LS0tLS1CRUdJT/],
  ['kubeconfig credentials', /client-(key|certificate)-data/],
  ['a bootstrap-token-shaped string', new RegExp(TOKEN_PATTERN.source.replace(/^\^|\$$/g, ''))],
  ['an age identity', /AGE-SECRET-KEY-1/],
];

/** The bundle's secret values as they appear in files and configs (raw, and base64 of the PEM text). */
export function secretValues(bundle: SecretsBundle): string[] {
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  const keys = [bundle.certs.os.key, bundle.certs.etcd.key, bundle.certs.k8s.key, bundle.certs.k8sAggregator.key, bundle.certs.k8sServiceAccount.key];
  return [
    bundle.cluster.secret,
    bundle.secrets.bootstrapToken,
    bundle.trustdInfo.token,
    ...(bundle.secrets.secretboxEncryptionSecret ? [bundle.secrets.secretboxEncryptionSecret] : []),
    // A long enough piece of each key's base64 identifies it without matching by chance.
    ...keys.flatMap((k) => [b64(k).slice(20, 80), k.split('\n')[1] ?? '']),
  ].filter((v) => v.length >= 16);
}

/**
 * Reads the complete history of every workflow run on the server (every payload decoded) and returns what it
 * found that looks like key material or equals one of `secrets`: an empty list means clean.
 */
export async function secretsInHistories(client: Client, secrets: string[]): Promise<string[]> {
  const findings: string[] = [];
  let runs = 0;
  for await (const w of client.workflow.list()) {
    runs++;
    const text = await historyText(client.workflow.getHandle(w.workflowId, w.runId));
    for (const [what, re] of PATTERNS) if (re.test(text)) findings.push(`${w.workflowId}/${w.runId}: ${what} (${re.exec(text)![0]})`);
    for (const s of secrets) if (text.includes(s)) findings.push(`${w.workflowId}/${w.runId}: a secret of the bundle (${s.slice(0, 6)}…)`);
  }
  if (runs === 0) findings.push('no workflow runs were found to scan');
  return findings;
}

/**
 * A run's whole history as searchable text: the events as JSON plus every payload decoded from base64, so a test
 * can look for what a user would see in the Temporal UI (names, messages) and for what must never be there.
 */
export async function historyText(handle: { fetchHistory(): Promise<{ events?: unknown[] | null }> }): Promise<string> {
  const events = (await handle.fetchHistory()).events ?? [];
  const json = JSON.stringify(events);
  const decoded: string[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k === 'data' && typeof v === 'string') decoded.push(Buffer.from(v, 'base64').toString('utf8'));
        else if (k === 'data' && v instanceof Uint8Array) decoded.push(Buffer.from(v).toString('utf8'));
        else visit(v);
      }
    }
  };
  visit(JSON.parse(json));
  return `${json}\n${decoded.join('\n')}`;
}
