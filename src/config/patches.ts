import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { applyPatch, JsonPatchError, type Operation } from 'fast-json-patch';
import YAML from 'yaml';
import { FleetError, ValidationError } from '../errors';
import { stringifyGoYamlDocuments } from './goyaml';
import { isMap } from './maps';

/** A document of a machine configuration, as plain data. */
export type ConfigDocument = Record<string, unknown>;

/** A config patch: a strategic merge (partial documents) or an RFC 6902 JSON patch, with where it came from for errors. */
export type ConfigPatch =
  | { type: 'strategic'; documents: ConfigDocument[]; source: string }
  | { type: 'json6902'; operations: Operation[]; source: string };

const JSON_PATCH_OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);


/** Parses patch text: a list of `{op, path, value}` is a JSON patch, one or more mappings a strategic merge patch. */
export function parsePatch(text: string, source = 'inline patch'): ConfigPatch {
  const docs = YAML.parseAllDocuments(text);
  const values: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) {
      throw new ValidationError(`config patch ${source}`, doc.errors.map((e) => ({ path: '', message: `YAML syntax: ${e.message.split('\n')[0]}` })));
    }
    const v = doc.toJS() as unknown;
    if (v !== null && v !== undefined) values.push(v);
  }
  if (values.length === 0) throw new ValidationError(`config patch ${source}`, [{ path: '', message: 'the patch is empty' }]);

  if (values.length === 1 && Array.isArray(values[0])) {
    const ops = values[0] as unknown[];
    const problems = ops.flatMap((op, i) => {
      const path = `[${i}]`;
      if (!isMap(op)) return [{ path, message: 'a JSON patch operation must be a mapping with op and path' }];
      if (typeof op.op !== 'string' || !JSON_PATCH_OPS.has(op.op)) return [{ path: `${path}.op`, message: `must be one of ${[...JSON_PATCH_OPS].join(', ')}` }];
      if (typeof op.path !== 'string') return [{ path: `${path}.path`, message: 'is required (a JSON pointer such as /machine/install/disk)' }];
      if (['add', 'replace', 'test'].includes(op.op) && !('value' in op)) return [{ path: `${path}.value`, message: `is required for "${op.op}"` }];
      return [];
    });
    if (problems.length > 0) throw new ValidationError(`config patch ${source}`, problems);
    return { type: 'json6902', operations: ops as Operation[], source };
  }
  const notMaps = values.findIndex((v) => !isMap(v));
  if (notMaps >= 0) {
    throw new ValidationError(`config patch ${source}`, [
      { path: `document ${notMaps + 1}`, message: 'a strategic merge patch document must be a mapping; a JSON patch is a single list of operations' },
    ]);
  }
  return { type: 'strategic', documents: values as ConfigDocument[], source };
}

/**
 * Loads a patch given on the command line: `@file` reads the file; otherwise the text is the patch itself.
 * Like talosctl, a lone word that names an existing file is read as that file.
 */
export function loadPatch(spec: string, opts: { cwd?: string } = {}): ConfigPatch {
  const fromFile = (file: string): ConfigPatch => {
    const path = resolve(opts.cwd ?? process.cwd(), file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new FleetError('patch_unreadable', `cannot read config patch ${path}: ${(err as Error).message}`, { cause: err });
    }
    return parsePatch(text, path);
  };
  if (spec.startsWith('@')) return fromFile(spec.slice(1));
  if (!/[\n ]/.test(spec) && !/^[[{]/.test(spec) && existsSync(resolve(opts.cwd ?? process.cwd(), spec))) return fromFile(spec);
  return parsePatch(spec, 'inline patch');
}

interface DocIdentity {
  apiVersion: string;
  kind: string;
  name?: string;
}

/** Documents without kind/apiVersion are the legacy v1alpha1 document. */
function identity(doc: ConfigDocument): DocIdentity {
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  if (!doc.kind && !doc.apiVersion) return { apiVersion: '', kind: 'v1alpha1' };
  return { apiVersion: str(doc.apiVersion), kind: str(doc.kind), name: typeof doc.name === 'string' ? doc.name : undefined };
}

const sameDoc = (a: DocIdentity, b: DocIdentity): boolean => a.apiVersion === b.apiVersion && a.kind === b.kind && a.name === b.name;

const describeDoc = (id: DocIdentity): string => (id.kind === 'v1alpha1' ? 'v1alpha1' : `${id.apiVersion}/${id.kind}${id.name ? ` "${id.name}"` : ''}`);

/** A `$patch: delete` found in a patch: a key path to remove, or (with `key`) the list item whose `key` equals `value`. */
interface DeleteSelector {
  path: string[];
  key?: string;
  value?: string;
}

const isDeleteMarker = (v: unknown): boolean => isMap(v) && v.$patch === 'delete';

/**
 * Takes every `$patch: delete` out of a patch document (mutating it) and returns them, as upstream does before merging:
 * a map holding the marker deletes that key; a list item holding it deletes the matching item, selected by the item's
 * first other key (`interface: eth0`, `name: PodSecurity`). Maps emptied by the removal drop out of the patch.
 */
function extractDeletes(node: unknown, path: string[], inList: boolean, out: DeleteSelector[], source: string): boolean {
  if (isMap(node)) {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$patch') continue;
      if (isDeleteMarker(v)) {
        if (path.some((p) => p.startsWith('['))) {
          throw new FleetError('patch_invalid', `${source}: cannot delete an inner key in '${[...path, k].join('.')}'`);
        }
        out.push({ path: [...path, k] });
        delete node[k];
      } else if (extractDeletes(v, [...path, k], false, out, source)) {
        delete node[k];
      }
    }
    return Object.keys(node).length === 0 && !inList;
  }
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const item: unknown = node[i];
      if (isDeleteMarker(item)) {
        const entry = Object.entries(item as Record<string, unknown>).find(([k]) => k !== '$patch');
        if (!entry) throw new FleetError('patch_invalid', `${source}: a list item with $patch: delete needs a key to select it, at '${path.join('.')}'`);
        out.push({ path, key: entry[0], value: String(entry[1]) });
        node.splice(i--, 1);
      } else {
        extractDeletes(item, [...path, `[${i}]`], true, out, source);
      }
    }
    return node.length === 0;
  }
  return false;
}

function applyDelete(doc: ConfigDocument, sel: DeleteSelector, docName: string, source: string): void {
  const fail = (): never => {
    throw new FleetError('patch_failed', `${source}: patch delete: path '${sel.path.join('.')}' in document ${docName}: lookup failed`);
  };
  let parent: unknown = doc;
  const steps = sel.key === undefined ? sel.path.slice(0, -1) : sel.path;
  for (const step of steps) {
    if (!isMap(parent) || !(step in parent)) fail();
    parent = (parent as Record<string, unknown>)[step];
  }
  if (sel.key === undefined) {
    const last = sel.path[sel.path.length - 1];
    if (last === undefined || !isMap(parent) || !(last in parent)) return fail();
    delete parent[last];
    return;
  }
  if (!Array.isArray(parent)) return fail();
  const idx = parent.findIndex((item) => isMap(item) && item[sel.key!] !== undefined && String(item[sel.key!]) === sel.value);
  if (idx < 0) fail();
  parent.splice(idx, 1);
}

// Upstream's merge rules for the v1alpha1 document (struct tags and Merge methods in v1alpha1_types.go).
const REPLACED = new Set(['cluster.network.podSubnets', 'cluster.network.serviceSubnets', 'cluster.apiServer.auditPolicy']);
const MERGE_KEYS: Record<string, (a: Record<string, unknown>, b: Record<string, unknown>) => boolean> = {
  'machine.network.interfaces': (a, b) =>
    b.interface ? a.interface === b.interface : b.deviceSelector !== undefined && JSON.stringify(a.deviceSelector) === JSON.stringify(b.deviceSelector),
  'machine.network.interfaces.*.vlans': (a, b) => a.vlanId === b.vlanId,
  'cluster.apiServer.admissionControl': (a, b) => a.name === b.name,
};

const clone = <T>(v: T): T => structuredClone(v);

/** Go's merge skips zero values on the right, except `false`, which always wins. */
const isZeroScalar = (v: unknown): boolean => v === '' || v === 0;

function mergeMaps(left: Record<string, unknown>, right: Record<string, unknown>, path: string[], legacy: boolean, source: string): void {
  for (const [k, rv] of Object.entries(right)) {
    if (rv === null || rv === undefined) continue;
    const p = [...path, k];
    const pathKey = p.join('.');
    const lv = left[k];
    if (lv === undefined || lv === null) {
      if (!isZeroScalar(rv)) left[k] = clone(rv);
    } else if (legacy && REPLACED.has(pathKey) && (Array.isArray(rv) ? rv.length > 0 : true)) {
      left[k] = clone(rv);
    } else if (isMap(lv) && isMap(rv)) {
      mergeMaps(lv, rv, p, legacy, source);
    } else if (Array.isArray(lv) && Array.isArray(rv)) {
      const matches = legacy ? MERGE_KEYS[pathKey] : undefined;
      for (const item of rv) {
        const existing: unknown = matches && isMap(item) ? (lv as unknown[]).find((l) => isMap(l) && matches(l, item)) : undefined;
        if (existing && isMap(existing) && isMap(item)) mergeMaps(existing, item, [...p, '*'], legacy, source);
        else lv.push(clone(item));
      }
    } else if (isMap(lv) || isMap(rv) || Array.isArray(lv) || Array.isArray(rv)) {
      throw new FleetError('patch_failed', `${source}: cannot merge ${describe(rv)} into ${describe(lv)} at ${pathKey}`);
    } else if (!isZeroScalar(rv)) {
      left[k] = rv;
    }
  }
}

// Kinds only, never values: the value at a path may be a token or a key.
const describe = (v: unknown): string => (Array.isArray(v) ? 'a list' : isMap(v) ? 'a mapping' : v === null ? 'null' : `a ${typeof v}`);

function applyStrategic(docs: ConfigDocument[], patch: Extract<ConfigPatch, { type: 'strategic' }>): ConfigDocument[] {
  const result = docs;
  for (const original of patch.documents) {
    const pdoc = clone(original);
    const id = identity(pdoc);
    const idx = result.findIndex((d) => sameDoc(identity(d), id));
    const target = result[idx];
    if (pdoc.$patch === 'delete') {
      if (id.kind === 'v1alpha1') throw new FleetError('patch_invalid', `${patch.source}: the v1alpha1 document cannot be deleted`);
      if (target === undefined) throw new FleetError('patch_failed', `${patch.source}: patch delete: document ${describeDoc(id)} not found`);
      result.splice(idx, 1);
      continue;
    }
    const deletes: DeleteSelector[] = [];
    extractDeletes(pdoc, [], false, deletes, patch.source);
    if (target === undefined) {
      if (deletes.length > 0) {
        throw new FleetError('patch_failed', `${patch.source}: patch delete: document ${describeDoc(id)} not found`);
      }
      result.push(id.kind === 'v1alpha1' ? { version: 'v1alpha1', ...pdoc } : pdoc);
      continue;
    }
    for (const sel of deletes) applyDelete(target, sel, describeDoc(id), patch.source);
    mergeMaps(target, pdoc, [], id.kind === 'v1alpha1', patch.source);
  }
  return result;
}

function applyJson6902(docs: ConfigDocument[], patch: Extract<ConfigPatch, { type: 'json6902' }>): ConfigDocument[] {
  const [doc] = docs;
  if (docs.length !== 1 || doc === undefined) {
    throw new FleetError('patch_failed', `${patch.source}: JSON6902 patches are not supported for multi-document machine configuration`);
  }
  try {
    return [applyPatch(clone(doc), patch.operations, true, false).newDocument];
  } catch (err) {
    if (err instanceof JsonPatchError) {
      const op = patch.operations[err.index ?? 0];
      throw new FleetError('patch_failed', `${patch.source}: operation ${(err.index ?? 0) + 1} (${op?.op} ${op?.path}) failed: ${err.message.split('\n')[0]}`, { cause: err });
    }
    throw err;
  }
}

/** Applies patches in order to parsed documents (not mutated) and returns the patched documents. */
export function applyPatchesToDocuments(docs: ConfigDocument[], patches: ConfigPatch[]): ConfigDocument[] {
  let result = clone(docs);
  for (const patch of patches) {
    result = patch.type === 'strategic' ? applyStrategic(result, patch) : applyJson6902(result, patch);
  }
  return result;
}

/** Parses a (multi-document) machine configuration into plain documents; YAML errors name the source. */
export function parseConfigDocuments(configYaml: string, source: string): ConfigDocument[] {
  const docs: ConfigDocument[] = [];
  for (const doc of YAML.parseAllDocuments(configYaml)) {
    if (doc.errors.length > 0) {
      throw new ValidationError(source, doc.errors.map((e) => ({ path: '', message: `YAML syntax: ${e.message.split('\n')[0]}` })));
    }
    const v = doc.toJS() as unknown;
    if (v === null || v === undefined) continue;
    if (!isMap(v)) throw new ValidationError(source, [{ path: `document ${docs.length + 1}`, message: 'must be a mapping' }]);
    docs.push(v);
  }
  return docs;
}

/** Applies patches to machine-configuration YAML and returns the patched YAML in Talos's layout. */
export function applyPatches(configYaml: string, patches: ConfigPatch[]): string {
  return stringifyGoYamlDocuments(applyPatchesToDocuments(parseConfigDocuments(configYaml, 'machine config'), patches));
}
