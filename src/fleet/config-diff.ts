import { isMap } from '../config/maps';
import { parseConfigDocuments, type ConfigDocument } from '../config/patches';

/** One difference between two machine configurations, at a dotted path (`machine.network.hostname`). */
export interface ConfigChange {
  path: string;
  change: 'added' | 'removed' | 'changed';
  /** The values, for display; `(secret)` for fields that hold key material, tokens or secrets. */
  before?: string;
  after?: string;
}

/** Fields whose values are secret: they are compared, never shown (a diff goes into run histories and Slack). */
const SECRET_FIELD = /(^|\.)(key|token|secret|secretboxEncryptionSecret|aescbcEncryptionSecret|bootstraptoken|crt|ca)(\.|$)/i;

function show(path: string, value: unknown): string {
  if (SECRET_FIELD.test(path)) return '(secret)';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** The name a document is matched by across two configs: its kind and name, or `v1alpha1` for the main one. */
function documentKey(doc: ConfigDocument): string {
  return typeof doc.kind === 'string' ? `${doc.kind}/${typeof doc.name === 'string' ? doc.name : ''}` : 'v1alpha1';
}

function compare(path: string, a: unknown, b: unknown, out: ConfigChange[]): void {
  if (isMap(a) && isMap(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) compare(path ? `${path}.${key}` : key, a[key], b[key], out);
    return;
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  if (a === undefined) out.push({ path, change: 'added', after: show(path, b) });
  else if (b === undefined) out.push({ path, change: 'removed', before: show(path, a) });
  else out.push({ path, change: 'changed', before: show(path, a), after: show(path, b) });
}

/**
 * What changes between the config a node runs and the one it would get, document by document and field by field,
 * ignoring formatting and comments (a node re-marshals the config it stores). Secret values are never shown.
 */
export function configChanges(currentYaml: string, nextYaml: string): ConfigChange[] {
  const index = (yaml: string, source: string) => new Map(parseConfigDocuments(yaml, source).map((d) => [documentKey(d), d]));
  const current = index(currentYaml, 'the node\'s current config');
  const next = index(nextYaml, 'the new config');
  const out: ConfigChange[] = [];
  for (const key of new Set([...current.keys(), ...next.keys()])) {
    const prefix = key === 'v1alpha1' ? '' : `${key}:`;
    const a = current.get(key);
    const b = next.get(key);
    if (!a) out.push({ path: `${prefix}(document)`, change: 'added' });
    else if (!b) out.push({ path: `${prefix}(document)`, change: 'removed' });
    else {
      const changes: ConfigChange[] = [];
      compare('', a, b, changes);
      out.push(...changes.map((c) => ({ ...c, path: `${prefix}${c.path}` })));
    }
  }
  return out;
}

/** A change as one line: `machine.network.hostname: cp-1 → cp-one`. */
export function describeChange(c: ConfigChange): string {
  if (c.change === 'added') return `+ ${c.path}${c.after !== undefined ? `: ${c.after}` : ''}`;
  if (c.change === 'removed') return `- ${c.path}${c.before !== undefined ? `: ${c.before}` : ''}`;
  return `~ ${c.path}: ${c.before} → ${c.after}`;
}
