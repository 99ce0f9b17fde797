/**
 * `detected_fields`: the fields a sample of log lines carries, as Loki 3 reports them —
 * each field's name, type (`int`, `float`, `boolean`, `duration`, `bytes`, `string`, the
 * first that every value parses as, in Loki's order), cardinality, and the parsers that
 * found it (`json`, `logfmt`; none for structured metadata such as `detected_level`).
 * Lines are parsed with the engine's own `| json` and `| logfmt` stages (JSON objects with
 * `json`, anything else with `logfmt`), so a field found here is one a query can use.
 * Pure; the caller feeds the lines (a log query's result) and owns the bounds.
 */
import { parseExprWithoutValidation } from '../../logql/parser.ts';
import { Pipeline, type Labels } from '../../logql/pipeline.ts';
import { parseBytes, parseGoDuration } from '../../logql/go-format.ts';

export interface DetectedField {
  label: string;
  type: FieldType;
  cardinality: number;
  parsers: string[] | null;
  jsonPath: string[];
}

export type FieldType = 'int' | 'float' | 'boolean' | 'duration' | 'bytes' | 'string';

const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;
const BOOL = new Set(['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Loki's `determineType` for one value. */
export function valueType(v: string): FieldType {
  if (INT.test(v)) return 'int';
  if (FLOAT.test(v)) return 'float';
  if (BOOL.has(v)) return 'boolean';
  try {
    parseGoDuration(v);
    return 'duration';
  } catch {
    // not a duration
  }
  try {
    if (/[a-z]/i.test(v)) {
      parseBytes(v);
      return 'bytes';
    }
  } catch {
    // not a size
  }
  return 'string';
}

/** Widest type of two: a field whose values disagree becomes the more general one. */
function widen(a: FieldType, b: FieldType): FieldType {
  if (a === b) return a;
  if ((a === 'int' && b === 'float') || (a === 'float' && b === 'int')) return 'float';
  return 'string';
}

function stagesOf(q: string) {
  const e = parseExprWithoutValidation(q);
  if (e.kind !== 'log') throw new Error('unreachable');
  return e.stages;
}

export interface DetectedInput {
  line: string;
  labels: Labels;
  meta: Labels;
}

interface FieldValues {
  type: FieldType;
  values: Set<string>;
  parsers: Set<string>;
}

/** Every field of the entries with its values (at most `maxValuesPerField` each) and parsers. */
function collectFields(entries: Iterable<DetectedInput>, maxValuesPerField: number): Map<string, FieldValues> {
  const json = new Pipeline(stagesOf('{x="y"} | json'));
  const logfmt = new Pipeline(stagesOf('{x="y"} | logfmt'));
  const fields = new Map<string, FieldValues>();
  const note = (name: string, value: string, parser: string | undefined) => {
    let f = fields.get(name);
    if (!f) fields.set(name, (f = { type: valueType(value), values: new Set(), parsers: new Set() }));
    else f.type = widen(f.type, valueType(value));
    if (f.values.size < maxValuesPerField) f.values.add(value);
    if (parser) f.parsers.add(parser);
  };
  for (const e of entries) {
    for (const [k, v] of Object.entries(e.meta)) note(k, v, undefined);
    const isJson = e.line.trimStart().startsWith('{');
    const out = (isJson ? json : logfmt).process(0n, e.line, e.labels, e.meta);
    if (!out) continue;
    for (const [k, v] of out.labels.entries()) {
      if (k in e.labels || k in e.meta || k.startsWith('__') || v === '') continue;
      note(k, v, isJson ? 'json' : 'logfmt');
    }
  }
  return fields;
}

/** At most `limit` fields, by name; values beyond `maxValuesPerField` stop being counted. */
export function detectFields(
  entries: Iterable<DetectedInput>,
  limit: number,
  maxValuesPerField = 10_000,
): DetectedField[] {
  const fields = collectFields(entries, maxValuesPerField);
  return [...fields.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, limit)
    .map(([label, f]) => ({
      label,
      type: f.type,
      cardinality: f.values.size,
      parsers: f.parsers.size ? [...f.parsers].sort() : null,
      jsonPath: f.parsers.has('json') ? [label] : [],
    }));
}

/** `detected_field/{name}/values`: the distinct values of one field, sorted, at most `limit`. */
export function detectedFieldValues(entries: Iterable<DetectedInput>, name: string, limit: number): string[] {
  const f = collectFields(entries, Number.MAX_SAFE_INTEGER).get(name);
  return f ? [...f.values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, limit) : [];
}
