/**
 * Structural check of a collection config received from the aggregator (pure), equivalent to
 * `CollectionConfigSchema` in shared/schemas/collection-config.ts. The agent does not load
 * TypeBox at run time: the schema library alone costs ~20 MiB of RSS in a process whose
 * whole budget is 96 MiB (bench/agent/throughput.bench.ts). The test
 * test/agent/filter/collection-config-check.test.ts keeps this check and the schema in
 * agreement on a table of valid and invalid configs.
 */
import type { CollectionConfig } from '../../shared/schemas/collection-config.ts';
import { LEVEL_RANK } from './collection-filter.ts';

const GLOB_KEYS = [
  'include_namespaces',
  'exclude_namespaces',
  'include_pods',
  'exclude_pods',
  'include_containers',
  'exclude_containers',
] as const;
const TOP_KEYS = new Set<string>([
  'enabled',
  ...GLOB_KEYS,
  'min_level',
  'rate_limit_lines_per_second',
  'multiline',
  'streams',
  'parse_json_fields',
  'label_selector',
  'namespace_overrides',
]);
const OVERRIDE_GLOB_KEYS = ['include_pods', 'exclude_pods', 'include_containers', 'exclude_containers'] as const;
const OVERRIDE_KEYS = new Set<string>([
  'enabled',
  'min_level',
  'multiline',
  'rate_limit_lines_per_second',
  ...OVERRIDE_GLOB_KEYS,
  'streams',
  'parse_json_fields',
  'label_selector',
]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isLevel(v: unknown): boolean {
  return typeof v === 'string' && Object.hasOwn(LEVEL_RANK, v);
}

function isCount(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function globsProblems(a: unknown, at: string, out: string[]): void {
  if (!Array.isArray(a) || a.length > 500) {
    out.push(`${at}: must be an array of at most 500 globs`);
    return;
  }
  a.forEach((g, i) => {
    if (typeof g !== 'string' || g.length < 1 || g.length > 253) out.push(`${at}/${i}: must be a string of 1 to 253 characters`);
  });
}

/** The optional settings both levels share (absent = default or inherited). */
function optionalProblems(v: Record<string, unknown>, at: string, out: string[]): void {
  const streams = v['streams'];
  if (
    streams !== undefined &&
    (!Array.isArray(streams) ||
      streams.length < 1 ||
      new Set(streams).size !== streams.length ||
      !streams.every((x) => x === 'stdout' || x === 'stderr'))
  )
    out.push(`${at}/streams: must be distinct "stdout" / "stderr", at least one`);
  if (v['parse_json_fields'] !== undefined && typeof v['parse_json_fields'] !== 'boolean')
    out.push(`${at}/parse_json_fields: must be a boolean`);
  const sel = v['label_selector'];
  if (sel !== undefined && (typeof sel !== 'string' || sel.length < 1 || sel.length > 1024))
    out.push(`${at}/label_selector: must be a string of 1 to 1024 characters`);
}

/** Problems found (empty = valid), as `path: message`. */
export function collectionConfigProblems(v: unknown): string[] {
  const out: string[] = [];
  if (!isObject(v)) return ['/: must be an object'];
  for (const k of Object.keys(v)) if (!TOP_KEYS.has(k)) out.push(`/${k}: unknown property`);
  if (typeof v['enabled'] !== 'boolean') out.push('/enabled: must be a boolean');
  if (typeof v['multiline'] !== 'boolean') out.push('/multiline: must be a boolean');
  if (!isLevel(v['min_level'])) out.push('/min_level: must be a level');
  if (!isCount(v['rate_limit_lines_per_second'])) out.push('/rate_limit_lines_per_second: must be an integer >= 0');
  for (const k of GLOB_KEYS) globsProblems(v[k], `/${k}`, out);
  optionalProblems(v, '', out);
  const o = v['namespace_overrides'];
  if (!isObject(o)) out.push('/namespace_overrides: must be an object');
  else {
    for (const [ns, ov] of Object.entries(o)) {
      if (!isObject(ov)) {
        out.push(`/namespace_overrides/${ns}: must be an object`);
        continue;
      }
      for (const k of Object.keys(ov))
        if (!OVERRIDE_KEYS.has(k)) out.push(`/namespace_overrides/${ns}/${k}: unknown property`);
      if (ov['enabled'] !== undefined && typeof ov['enabled'] !== 'boolean')
        out.push(`/namespace_overrides/${ns}/enabled: must be a boolean`);
      if (ov['multiline'] !== undefined && typeof ov['multiline'] !== 'boolean')
        out.push(`/namespace_overrides/${ns}/multiline: must be a boolean`);
      if (ov['min_level'] !== undefined && !isLevel(ov['min_level']))
        out.push(`/namespace_overrides/${ns}/min_level: must be a level`);
      if (ov['rate_limit_lines_per_second'] !== undefined && !isCount(ov['rate_limit_lines_per_second'])) {
        out.push(`/namespace_overrides/${ns}/rate_limit_lines_per_second: must be an integer >= 0`);
      }
      for (const k of OVERRIDE_GLOB_KEYS) if (ov[k] !== undefined) globsProblems(ov[k], `/namespace_overrides/${ns}/${k}`, out);
      optionalProblems(ov, `/namespace_overrides/${ns}`, out);
    }
  }
  return out;
}

export function isCollectionConfig(v: unknown): v is CollectionConfig {
  return collectionConfigProblems(v).length === 0;
}
