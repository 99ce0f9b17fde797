/**
 * The engine's input contract: how a stored record becomes a Loki stream.
 *
 * Stream labels: `cluster`, `namespace`, `pod`, `container`, `node` (when known), `stream`,
 * and every pod label with its name made Prometheus-safe (`app.kubernetes.io/name` →
 * `app_kubernetes_io_name`: each character outside `[a-zA-Z0-9_]` becomes `_`, a leading
 * digit gets a `_` prefix). The built-in names win over a pod label that sanitises to one of
 * them; when two pod labels sanitise to the same name, the one whose name was already safe
 * wins, else the smaller original name (so the mapping does not depend on map order).
 *
 * Structured metadata (Loki 3): `detected_level`, the level the agent detected. It is not a
 * stream label, so `| json` over a line with a `level` key extracts `level` exactly as
 * Loki would, and `detected_level` is still there to filter or group by.
 * Pure.
 */
import type { Labels } from './pipeline.ts';

/** What the mapping reads from a stored record (a subset of shared/record.ts' LogRecord). */
export interface StreamSource {
  cluster: string;
  namespace: string;
  pod: string;
  container: string;
  node?: string | undefined;
  stream: string;
  level?: string | undefined;
  labels?: Readonly<Record<string, string>> | undefined;
}

export interface LokiStream {
  labels: Labels;
  structuredMetadata: Labels;
}

const BUILT_IN = ['cluster', 'namespace', 'pod', 'container', 'node', 'stream'] as const;

/** `app.kubernetes.io/name` → `app_kubernetes_io_name`; `1x` → `_1x`. */
export function prometheusSafeName(name: string): string {
  let out = /^[0-9]/.test(name) ? '_' : '';
  for (const ch of name) out += /[a-zA-Z0-9_]/.test(ch) ? ch : '_';
  return out;
}

export function lokiStreamOf(r: StreamSource): LokiStream {
  const labels: Record<string, string> = {};
  const origin = new Map<string, string>();
  if (r.labels) {
    for (const key of Object.keys(r.labels).sort()) {
      const safe = prometheusSafeName(key);
      if (safe === '' || (BUILT_IN as readonly string[]).includes(safe)) continue;
      const prev = origin.get(safe);
      // An already-safe name beats one that was rewritten into it; otherwise the first (smallest) wins.
      if (prev !== undefined && !(key === safe && prev !== safe)) continue;
      origin.set(safe, key);
      labels[safe] = r.labels[key]!;
    }
  }
  labels.cluster = r.cluster;
  labels.namespace = r.namespace;
  labels.pod = r.pod;
  labels.container = r.container;
  if (r.node) labels.node = r.node;
  labels.stream = r.stream;
  const structuredMetadata: Record<string, string> = {};
  if (r.level) structuredMetadata.detected_level = r.level;
  return { labels, structuredMetadata };
}
