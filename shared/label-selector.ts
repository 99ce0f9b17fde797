/**
 * Kubernetes label selector syntax → requirements. Pure.
 *
 *   app=web, tier!=cache, env in (prod,staging), team notin (a), canary, !legacy
 *
 * `=`/`==` equality, `!=` inequality (matches objects without the label too, as in
 * Kubernetes), set-based `in`/`notin`, `key` exists, `!key` does not exist.
 */

export type LabelRequirement =
  | { key: string; op: 'in'; values: string[] }
  | { key: string; op: 'notin'; values: string[] }
  | { key: string; op: 'exists' }
  | { key: string; op: '!exists' };

export class LabelSelectorError extends Error {
  override readonly name = 'LabelSelectorError';
}

// Qualified name with optional DNS prefix, as Kubernetes allows for label keys.
const KEY = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

export function parseLabelSelector(input: string): LabelRequirement[] {
  const out: LabelRequirement[] = [];
  for (const term of splitTerms(input)) {
    out.push(parseTerm(term));
  }
  return out;
}

/** Splits on commas that are not inside parentheses. */
function splitTerms(input: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of input) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw new LabelSelectorError(`unbalanced ")" in label selector "${input}"`);
    if (ch === ',' && depth === 0) {
      terms.push(current.trim());
      current = '';
    } else {
      current += ch;
    }
  }
  if (depth !== 0) throw new LabelSelectorError(`unbalanced "(" in label selector "${input}"`);
  terms.push(current.trim());
  if (terms.some((t) => t === '')) throw new LabelSelectorError(`empty term in label selector "${input}"`);
  return terms;
}

function parseTerm(term: string): LabelRequirement {
  let m = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term);
  if (m) {
    const key = checkKey(m[1]!);
    const values = m[3]!.split(',').map((v) => checkValue(v.trim()));
    if (values.length === 0 || values.some((v) => v === '')) {
      throw new LabelSelectorError(`"${term}": a set needs at least one non-empty value`);
    }
    return { key, op: m[2] === 'in' ? 'in' : 'notin', values };
  }
  m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
  if (m) {
    const key = checkKey(m[1]!);
    const value = checkValue(m[3]!.trim());
    return m[2] === '!=' ? { key, op: 'notin', values: [value] } : { key, op: 'in', values: [value] };
  }
  if (term.startsWith('!')) return { key: checkKey(term.slice(1).trim()), op: '!exists' };
  return { key: checkKey(term), op: 'exists' };
}

function checkKey(key: string): string {
  if (!KEY.test(key)) throw new LabelSelectorError(`invalid label key "${key}"`);
  return key;
}

function checkValue(value: string): string {
  if (!VALUE.test(value)) throw new LabelSelectorError(`invalid label value "${value}"`);
  return value;
}

/** Do `labels` satisfy every requirement (Kubernetes semantics: `notin` matches a missing label)? Pure. */
export function matchesLabelSelector(
  reqs: readonly LabelRequirement[],
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const r of reqs) {
    const has = Object.hasOwn(labels, r.key);
    switch (r.op) {
      case 'exists':
        if (!has) return false;
        break;
      case '!exists':
        if (has) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(labels[r.key]!)) return false;
        break;
      case 'notin':
        if (has && r.values.includes(labels[r.key]!)) return false;
        break;
    }
  }
  return true;
}
