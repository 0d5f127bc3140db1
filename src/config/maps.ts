/** True for a YAML/JSON mapping (a plain object), not a list, scalar or null. */
export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
