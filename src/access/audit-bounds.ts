/**
 * What an audit entry may hold of a request: its named fields, each value cut
 * to a few hundred bytes with its size stated, never a whole body. Whoever
 * can send a request (a viewer, a refused caller) must not be able to grow
 * the log, or the event stream that publishes it, by what they send.
 */
/** A value whose JSON is longer is cut (strings keep their start) and its size stated. */
export const VALUE_MAX_BYTES = 256;
/** The fields kept of a request; the rest are counted. */
export const FIELDS_MAX = 24;
/** A field's name longer than this is cut. */
export const NAME_MAX = 64;
/** The actor, action, target and outcome of an entry are cut to this many characters. */
export const TEXT_MAX = 300;

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

/** The first `max` characters, not splitting a surrogate pair. */
function head(text: string, max: number): string {
  const cut = text.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

export function boundedText(text: string, max = TEXT_MAX): string {
  return text.length > max ? `${head(text, max)}…` : text;
}

function boundedString(value: string): string {
  const size = bytes(value);
  if (size <= VALUE_MAX_BYTES) return value;
  return `${head(value, VALUE_MAX_BYTES / 2)}… <${size} bytes, cut>`;
}

/** An array keeps its first items while they fit, then says how many more there were. */
function boundedArray(value: unknown[], size: number): unknown[] {
  const kept: unknown[] = [];
  let used = 2;
  for (const item of value) {
    const json = JSON.stringify(item) ?? 'null';
    if (used + bytes(json) + 1 > VALUE_MAX_BYTES) break;
    kept.push(item);
    used += bytes(json) + 1;
  }
  return [...kept, `<${value.length - kept.length} more of ${value.length} items, ${size} bytes in all, cut>`];
}

export function boundedValue(value: unknown): unknown {
  if (typeof value === 'string') return boundedString(value);
  if (value === null || typeof value !== 'object') return value;
  const json = JSON.stringify(value);
  const size = bytes(json);
  if (size <= VALUE_MAX_BYTES) return value;
  if (Array.isArray(value)) return boundedArray(value, size);
  return `<object of ${Object.keys(value).length} fields, ${size} bytes, cut>`;
}

/** A request's parameters as the log keeps them: at most FIELDS_MAX named fields, each value bounded. */
export function boundedParams(params: Record<string, unknown>): Record<string, unknown> {
  const names = Object.keys(params);
  const kept = Object.fromEntries(names.slice(0, FIELDS_MAX).map((name) => [boundedText(name, NAME_MAX), boundedValue(params[name])]));
  if (names.length > FIELDS_MAX) kept['…'] = `<${names.length - FIELDS_MAX} more fields>`;
  return kept;
}

interface Entry {
  actor: string;
  action: string;
  target: string;
  params: Record<string, unknown>;
  outcome: string;
}

/** An entry as it is written and published: every part of it bounded. */
export function boundedEntry<E extends Entry>(input: E): Entry {
  return {
    actor: boundedText(input.actor),
    action: boundedText(input.action),
    target: boundedText(input.target),
    params: boundedParams(input.params),
    outcome: boundedText(input.outcome),
  };
}

/** The stated size of a body the server did not read (refused before, or over its route's limit). */
export function unreadBody(contentLength: string | undefined, limit: number | undefined, tooLarge: boolean): string {
  const length = contentLength !== undefined && /^\d+$/.test(contentLength) ? Number(contentLength) : undefined;
  if (length !== undefined) return `<${length} bytes, not read${tooLarge && limit !== undefined ? `: over the limit of ${limit}` : ''}>`;
  return tooLarge && limit !== undefined ? `<more than ${limit} bytes, not read>` : '<a body of unknown size, not read>';
}
