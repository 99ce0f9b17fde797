/**
 * Parses the Prometheus label string of a protobuf push stream: `{app="web", pod="w-1"}`.
 * Pure. Accepts what Loki's `ParseLabels` accepts from agents: equality pairs only, names
 * `[a-zA-Z_][a-zA-Z0-9_]*`, values in double quotes with Go escapes (`\"` `\\` `\n` `\t`
 * `\xNN` `\uNNNN` …) or in backquotes (raw), optional whitespace, an optional trailing
 * comma. A repeated name is an error; a pair with an empty value is dropped (in Prometheus
 * an empty label is an absent one). Returns the error text instead of throwing: the caller
 * refuses that stream only.
 */

export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export type LabelParse = { ok: true; labels: Record<string, string> } | { ok: false; error: string };

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

export function parseLabelString(text: string): LabelParse {
  const labels: Record<string, string> = {};
  const n = text.length;
  let i = 0;
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const fail = (what: string): LabelParse => ({
    ok: false,
    error: `${what} at position ${i} of ${JSON.stringify(text.slice(0, 200))}`,
  });
  ws();
  if (text[i] !== '{') return fail('expected "{"');
  i++;
  for (;;) {
    ws();
    if (text[i] === '}') break;
    const start = i;
    while (i < n && /[a-zA-Z0-9_]/.test(text[i]!)) i++;
    const name = text.slice(start, i);
    if (!LABEL_NAME.test(name)) return fail('expected a label name');
    ws();
    if (text[i] !== '=') return fail(`expected "=" after ${name}`);
    i++;
    ws();
    const value = readQuoted();
    if (value === undefined) return fail(`expected a quoted value for ${name}`);
    if (Object.prototype.hasOwnProperty.call(labels, name)) return fail(`duplicate label name ${name}`);
    if (value !== '') labels[name] = value;
    ws();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '}') break;
    return fail('expected "," or "}"');
  }
  i++;
  ws();
  if (i !== n) return fail('unexpected text after "}"');
  return { ok: true, labels };

  function readQuoted(): string | undefined {
    const q = text[i];
    if (q === '`') {
      const close = text.indexOf('`', i + 1);
      if (close < 0) return undefined;
      const v = text.slice(i + 1, close);
      i = close + 1;
      return v;
    }
    if (q !== '"') return undefined;
    i++;
    let out = '';
    while (i < n) {
      const c = text[i]!;
      if (c === '"') {
        i++;
        return out;
      }
      if (c === '\n') return undefined;
      if (c !== '\\') {
        out += c;
        i++;
        continue;
      }
      const e = text[i + 1];
      if (e === undefined) return undefined;
      const simple = SIMPLE_ESCAPES[e];
      if (simple !== undefined) {
        out += simple;
        i += 2;
        continue;
      }
      const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
      if (hexLen > 0) {
        const hex = text.slice(i + 2, i + 2 + hexLen);
        if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(hex)) return undefined;
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff) return undefined;
        out += String.fromCodePoint(cp);
        i += 2 + hexLen;
        continue;
      }
      const oct = text.slice(i + 1, i + 4);
      if (/^[0-7]{3}$/.test(oct)) {
        out += String.fromCharCode(parseInt(oct, 8));
        i += 4;
        continue;
      }
      return undefined;
    }
    return undefined;
  }
}

/** Pure: the label string of `labels`, names sorted (for messages and ids). */
export function formatLabelString(labels: Readonly<Record<string, string>>): string {
  return `{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(', ')}}`;
}
