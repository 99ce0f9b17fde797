// Label and field selector parsing and matching, following the grammar of the
// Kubernetes API server (k8s.io/apimachinery labels and fields packages).
// Pure: parse once per request, then match many objects. Parse errors throw
// StatusError(400) with messages close to the real server's.

import { badRequest } from './kube-objects.ts';

export type LabelRequirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!' }
  | { key: string; op: 'gt' | 'lt'; value: number };

export type LabelSelector = LabelRequirement[];

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

export type FieldSelector = FieldRequirement[];

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** Splits on commas that are not inside parentheses (`a in (x,y),b`). */
function splitTopLevel(input: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(input.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(input.slice(start));
  return parts;
}

function checkKey(key: string, term: string): string {
  if (!LABEL_KEY.test(key)) {
    throw badRequest(`unable to parse requirement: invalid label key "${key}" in "${term}"`);
  }
  return key;
}

function checkValue(value: string, term: string): string {
  if (!LABEL_VALUE.test(value)) {
    throw badRequest(`unable to parse requirement: invalid label value "${value}" in "${term}"`);
  }
  return value;
}

function parseLabelTerm(raw: string): LabelRequirement {
  const term = raw.trim();
  if (term === '') throw badRequest('unable to parse requirement: found \'\', expected: identifier');
  if (term.startsWith('!')) return { key: checkKey(term.slice(1).trim(), term), op: '!' };

  const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term);
  if (set) {
    const values = (set[3] ?? '').split(',').map((v) => checkValue(v.trim(), term));
    return { key: checkKey(set[1] ?? '', term), op: set[2] === 'in' ? 'in' : 'notin', values };
  }
  const cmp = /^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(.*)$/.exec(term);
  if (cmp) {
    const key = checkKey(cmp[1] ?? '', term);
    const value = cmp[3] ?? '';
    switch (cmp[2]) {
      case '<':
      case '>': {
        const n = Number(value);
        if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n)) {
          throw badRequest(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`);
        }
        return { key, op: cmp[2] === '<' ? 'lt' : 'gt', value: n };
      }
      case '!=':
        return { key, op: 'notin', values: [checkValue(value, term)] };
      default:
        return { key, op: 'in', values: [checkValue(value, term)] };
    }
  }
  return { key: checkKey(term, term), op: 'exists' };
}

/** `undefined`/empty selects everything. */
export function parseLabelSelector(input: string | null | undefined): LabelSelector {
  if (input == null || input.trim() === '') return [];
  return splitTopLevel(input).map(parseLabelTerm);
}

export function matchesLabels(
  selector: LabelSelector,
  labels: Record<string, string> | undefined,
): boolean {
  for (const req of selector) {
    const has = labels !== undefined && Object.hasOwn(labels, req.key);
    const value = has ? labels[req.key] : undefined;
    switch (req.op) {
      case 'exists':
        if (!has) return false;
        break;
      case '!':
        if (has) return false;
        break;
      case 'in':
        if (value === undefined || !req.values.includes(value)) return false;
        break;
      case 'notin':
        // As in Kubernetes, `key!=v` and `key notin (v)` match objects without the key.
        if (value !== undefined && req.values.includes(value)) return false;
        break;
      case 'gt':
      case 'lt': {
        if (value === undefined || !/^-?\d+$/.test(value)) return false;
        const n = Number(value);
        if (req.op === 'gt' ? !(n > req.value) : !(n < req.value)) return false;
        break;
      }
    }
  }
  return true;
}

/** Splits on unescaped `sep`; field selector values escape `\`, `,` and `=` with a backslash. */
function splitUnescaped(input: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c === '\\' && i + 1 < input.length) {
      current += c + input[i + 1];
      i++;
    } else if (c === sep) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

function unescapeFieldValue(value: string): string {
  return value.replace(/\\(.)/g, (_m, c: string) => c);
}

/**
 * Parses a field selector and checks each field against `supportedFields`
 * (the real server rejects unknown fields with 400 "field label not supported").
 */
export function parseFieldSelector(
  input: string | null | undefined,
  supportedFields: ReadonlySet<string>,
): FieldSelector {
  if (input == null || input.trim() === '') return [];
  return splitUnescaped(input, ',').map((raw) => {
    const term = raw.trim();
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/s.exec(term);
    if (!m) throw badRequest(`invalid selector: '${input}'; can't understand '${term}'`);
    const field = m[1] ?? '';
    if (!supportedFields.has(field)) throw badRequest(`field label not supported: ${field}`);
    return { field, op: m[2] === '!=' ? '!=' : '=', value: unescapeFieldValue(m[3] ?? '') };
  });
}

/** `fields` maps each supported field name to the object's value ('' when unset). */
export function matchesFields(
  selector: FieldSelector,
  fields: (name: string) => string,
): boolean {
  for (const req of selector) {
    const value = fields(req.field);
    if (req.op === '=' ? value !== req.value : value === req.value) return false;
  }
  return true;
}
