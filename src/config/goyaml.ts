import YAML from 'yaml';
import { isMap } from './maps';

/**
 * YAML emitted the way Talos writes it (Go's yaml.v3 with 4-space indentation), so files we write
 * diff cleanly against files talosctl wrote. Handles the plain data configs contain: maps, lists, scalars.
 *
 * yaml.v3's one quirk worth knowing: a map that is a list item has its keys two columns after the dash,
 * but its children are indented from the dash column, so they sit only two columns deeper than the key.
 */
export function stringifyGoYaml(value: unknown): string {
  const lines: string[] = [];
  if (isMap(value)) emitMapBody(value, 0, 0, lines);
  else if (Array.isArray(value)) emitSeq(value, 0, lines);
  else lines.push(scalar(value, 0));
  return lines.join('\n') + '\n';
}

/** Several documents joined by `---`, as Talos encodes a multi-document machine configuration. */
export function stringifyGoYamlDocuments(documents: unknown[]): string {
  return documents.map((d) => stringifyGoYaml(d)).join('---\n');
}

function pad(n: number): string {
  return ' '.repeat(n);
}

function key(k: string): string {
  return YAML.stringify(k, { version: '1.1' }).trimEnd();
}

/** A scalar on one line, or a literal block for multi-line strings (as yaml.v3 does for manifests). */
function scalar(v: unknown, childIndent: number): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string' && v.includes('\n') && !/[ \t]\n|[ \t]$/.test(v) && !/^\s/.test(v)) {
    const trailing = v.match(/\n*$/)![0].length;
    const indicator = trailing === 0 ? '|-' : trailing === 1 ? '|' : '|+';
    const body = v.replace(/\n+$/, '').split('\n');
    const extra: string[] = trailing > 1 ? new Array<string>(trailing - 1).fill('') : [];
    return [indicator, ...[...body, ...extra].map((l) => (l === '' ? '' : pad(childIndent) + l))].join('\n');
  }
  // YAML 1.1 quoting rules, like yaml.v3: strings such as "yes", "on" or "0755" stay strings when read back.
  return YAML.stringify(v, { version: '1.1', lineWidth: 0, minContentWidth: 0 }).trimEnd();
}

function isEmpty(v: unknown): boolean {
  return (Array.isArray(v) && v.length === 0) || (isMap(v) && Object.keys(v).length === 0);
}

/** Map entries; `keyCol` is where keys are written, `level` the indentation children are measured from. */
function emitMapBody(map: Record<string, unknown>, keyCol: number, level: number, lines: string[], firstPrefix?: string): void {
  let first = true;
  for (const [k, v] of Object.entries(map)) {
    if (v === undefined) continue;
    const prefix = first && firstPrefix !== undefined ? firstPrefix : pad(keyCol);
    first = false;
    if (isEmpty(v)) {
      lines.push(`${prefix}${key(k)}: ${Array.isArray(v) ? '[]' : '{}'}`);
    } else if (isMap(v)) {
      lines.push(`${prefix}${key(k)}:`);
      emitMapBody(v, level + 4, level + 4, lines);
    } else if (Array.isArray(v)) {
      lines.push(`${prefix}${key(k)}:`);
      emitSeq(v, level + 4, lines);
    } else {
      lines.push(`${prefix}${key(k)}: ${scalar(v, level + 4)}`);
    }
  }
  if (first && firstPrefix !== undefined) lines.push(`${firstPrefix}{}`);
}

function emitSeq(seq: unknown[], col: number, lines: string[]): void {
  for (const item of seq) {
    if (isEmpty(item)) {
      lines.push(`${pad(col)}- ${Array.isArray(item) ? '[]' : '{}'}`);
    } else if (isMap(item)) {
      emitMapBody(item, col + 2, col, lines, `${pad(col)}- `);
    } else if (Array.isArray(item)) {
      lines.push(`${pad(col)}-`);
      emitSeq(item, col + 4, lines);
    } else {
      lines.push(`${pad(col)}- ${scalar(item, col + 2)}`);
    }
  }
}
