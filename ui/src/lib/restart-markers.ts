/**
 * Restart markers for the timeline: a container whose `container_id` changes between two
 * loaded lines restarted there. Pure; the records come newest first, as the list holds them.
 */
export interface RestartMarker {
  /** Epoch ms of the first line of the new instance. */
  ms: number;
  label: string;
}

interface MarkerInput {
  namespace: string;
  pod: string;
  container: string;
  container_id?: string | undefined;
  timestamp: string;
}

export function restartMarkers(newestFirst: readonly MarkerInput[]): RestartMarker[] {
  const lastId = new Map<string, string>();
  const out: RestartMarker[] = [];
  for (let i = newestFirst.length - 1; i >= 0; i--) {
    const r = newestFirst[i]!;
    if (!r.container_id) continue;
    const k = `${r.namespace}/${r.pod}/${r.container}`;
    const prev = lastId.get(k);
    if (prev && prev !== r.container_id)
      out.push({ ms: Date.parse(r.timestamp.replace(/(\.\d{3})\d+/, '$1')), label: `${k} restarted` });
    lastId.set(k, r.container_id);
  }
  return out;
}
