/** One difference between two JSON documents, at a JSON Pointer (RFC 6901) into them. */
export interface JsonChange {
  op: 'add' | 'remove' | 'change';
  path: string;
  before?: unknown;
  after?: unknown;
}

/**
 * A compact diff of two JSON values: objects are compared key by key and arrays index by index, down to the
 * smallest part that differs, so a changed threshold shows as one change at `/conditions/all/0/value`. Key order
 * does not count. `undefined` on either side is "no document": a rule created or deleted.
 */
export function diffJson(before: unknown, after: unknown, path = ''): JsonChange[] {
  if (before === undefined && after === undefined) return [];
  if (before === undefined) return [{ op: 'add', path, after }];
  if (after === undefined) return [{ op: 'remove', path, before }];
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => diffJson(before[key], after[key], `${path}/${escapePointer(key)}`));
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const length = Math.max(before.length, after.length);
    return Array.from({ length }, (_, index) =>
      diffJson(before[index], after[index], `${path}/${index}`),
    ).flat();
  }
  return Object.is(before, after) ? [] : [{ op: 'change', path, before, after }];
}

export function sameJson(a: unknown, b: unknown): boolean {
  return diffJson(a, b).length === 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}
