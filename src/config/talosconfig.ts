/**
 * The talosconfig model (`pkg/machinery/client/config`): parsing, printing, a new one for a cluster, and the decoded
 * credentials of a context. Pure: data in, data out; reading and writing the file is src/talos/talosconfig.ts.
 */
import { FleetError, ValidationError, type Problem } from '../errors';
import { certificateMatchesKey, decodePemField, type CertificateAndKey } from './certs';
import { stringifyGoYaml } from './goyaml';
import { toNodePem } from './pem';
import { parseYamlDocument } from './secrets';
import { isMap } from './maps';

/** One talosconfig context. `ca`, `crt` and `key` hold standard base64 of PEM, exactly as in the file. */
export interface TalosconfigContext {
  endpoints: string[];
  nodes?: string[];
  ca?: string;
  crt?: string;
  key?: string;
  /** `basic{username,password}` or `siderov1{identity}`; kept as found so a round trip does not drop it. */
  auth?: Record<string, unknown>;
  cluster?: string;
}

/** A talosconfig file (`pkg/machinery/client/config`): the current context name and the contexts. */
export interface Talosconfig {
  context: string;
  contexts: Record<string, TalosconfigContext>;
}

/** Decoded credentials of a context, ready for TLS: PEM text, the key relabelled so Node/OpenSSL load it. */
export interface ClientIdentity {
  ca: string;
  crt: string;
  key: string;
}


function stringList(v: unknown, path: string, problems: Problem[]): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((e) => typeof e !== 'string')) {
    problems.push({ path, message: 'must be a list of strings' });
    return undefined;
  }
  return v as string[];
}

function optionalString(v: unknown, path: string, problems: Problem[]): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') {
    problems.push({ path, message: 'must be a string' });
    return undefined;
  }
  return v;
}

/** Parses talosconfig YAML; the deprecated `target` is appended to `endpoints`, as talosctl does when reading. */
export function parseTalosconfig(text: string, source: string): Talosconfig {
  const root = parseYamlDocument(text, source);
  if (!isMap(root)) throw new ValidationError(source, [{ path: '', message: 'is empty or not a YAML mapping (is it a talosconfig?)' }]);
  const problems: Problem[] = [];
  const context = root.context ?? '';
  if (typeof context !== 'string') problems.push({ path: 'context', message: 'must be a string' });
  const contexts: Record<string, TalosconfigContext> = {};
  if (root.contexts !== undefined && root.contexts !== null && !isMap(root.contexts)) {
    problems.push({ path: 'contexts', message: 'must be a mapping of context names to contexts' });
  }
  for (const [name, raw] of Object.entries(isMap(root.contexts) ? root.contexts : {})) {
    const at = `contexts.${name}`;
    if (!isMap(raw)) {
      problems.push({ path: at, message: 'must be a mapping' });
      continue;
    }
    const ctx: TalosconfigContext = { endpoints: stringList(raw.endpoints, `${at}.endpoints`, problems) ?? [] };
    const target = optionalString(raw.target, `${at}.target`, problems);
    if (target) ctx.endpoints = [...ctx.endpoints, target];
    const nodes = stringList(raw.nodes, `${at}.nodes`, problems);
    if (nodes) ctx.nodes = nodes;
    for (const field of ['ca', 'crt', 'key', 'cluster'] as const) {
      const value = optionalString(raw[field], `${at}.${field}`, problems);
      if (value !== undefined) ctx[field] = value;
    }
    if (isMap(raw.auth) && Object.keys(raw.auth).length > 0) ctx.auth = raw.auth;
    contexts[name] = ctx;
  }
  if (problems.length > 0) throw new ValidationError(source, problems);
  return { context: typeof context === 'string' ? context : '', contexts };
}

/** talosconfig YAML in talosctl's layout (yaml.v3, 4-space indent, contexts sorted by name, `endpoints` always present). */
export function stringifyTalosconfig(cfg: Talosconfig): string {
  const contexts: Record<string, unknown> = {};
  // Sorted by UTF-16 code units, as Array.prototype.sort orders the bare names.
  for (const [name, c] of Object.entries(cfg.contexts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    contexts[name] = {
      endpoints: c.endpoints,
      nodes: c.nodes && c.nodes.length > 0 ? c.nodes : undefined,
      ca: c.ca || undefined,
      crt: c.crt || undefined,
      key: c.key || undefined,
      auth: c.auth,
      cluster: c.cluster || undefined,
    };
  }
  return stringifyGoYaml({ context: cfg.context, contexts });
}

/** A talosconfig with one context for a cluster, as `gen config` writes it; `ca` and `client` are PEM text. */
export function newTalosconfig(contextName: string, endpoints: string[], caCrt: string, client: CertificateAndKey): Talosconfig {
  const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');
  return { context: contextName, contexts: { [contextName]: { endpoints, ca: b64(caCrt), crt: b64(client.crt), key: b64(client.key) } } };
}

/**
 * The named (or current) context and its decoded credentials. Errors name the file and the context:
 * a context that does not exist (listing those that do), a field that is not base64 of PEM,
 * or a certificate that does not belong to the key.
 */
export function contextIdentity(
  cfg: Talosconfig,
  contextName?: string,
  source = 'talosconfig',
): { name: string; context: TalosconfigContext; identity?: ClientIdentity } {
  const name = contextName ?? cfg.context;
  const context = name ? cfg.contexts[name] : undefined;
  if (!context) {
    const available = Object.keys(cfg.contexts).sort();
    const which = name ? `has no context "${name}"` : 'has no current context';
    throw new FleetError(
      'talosconfig_context',
      `${source} ${which}; available contexts: ${available.length > 0 ? available.join(', ') : '(none)'}`,
    );
  }
  if (!context.ca && !context.crt && !context.key) return { name, context };

  const problems: Problem[] = [];
  const decode = (field: 'ca' | 'crt' | 'key'): string | undefined => {
    const path = `contexts.${name}.${field}`;
    const value = context[field];
    if (!value) {
      problems.push({ path, message: 'is required when any of ca, crt, key is set' });
      return undefined;
    }
    const decoded = decodePemField(value.replace(/\s+/g, ''), field === 'key' ? 'key' : 'certificate');
    if ('pem' in decoded) return decoded.pem;
    problems.push({ path, message: decoded.problem });
    return undefined;
  };
  const ca = decode('ca');
  const crt = decode('crt');
  const key = decode('key');
  if (crt && key && !certificateMatchesKey({ crt, key })) {
    problems.push({ path: `contexts.${name}.key`, message: `does not match the certificate in contexts.${name}.crt` });
  }
  if (problems.length > 0) throw new ValidationError(`${source} context "${name}"`, problems);
  return { name, context, identity: { ca: ca!, crt: crt!, key: toNodePem(key!) } };
}

