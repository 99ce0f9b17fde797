/**
 * Reads back what the pipeline stored: every record of the run's cluster through the
 * API's NDJSON export (`GET /v1/k8s/logs/` with `Accept: application/x-ndjson`), tallied
 * by content; and the write → stored delay of every document straight from the run's own
 * OpenSearch (`ingested_at`, which the API does not return, minus the line's own CRI
 * timestamp, which the writer set to the moment it wrote the line).
 */
import { messageFor, seqOf } from './line-format.ts';
import type { Tally } from './compare-lines.ts';

export interface ExportQuery {
  apiUrl: string;
  token: string;
  cluster: string;
  startIso: string;
  endIso: string;
}

/** Streams the export into `tally`. Throws when the stream ends early (an aborted export). */
export async function tallyStoredLines(q: ExportQuery, files: number, tally: Tally): Promise<void> {
  const params = new URLSearchParams({ cluster: q.cluster, start: q.startIso, end: q.endIso, direction: 'forward' });
  const res = await fetch(`${q.apiUrl}/v1/k8s/logs/?${params}`, {
    headers: { authorization: `Bearer ${q.token}`, accept: 'application/x-ndjson' },
  });
  if (res.status !== 200 || res.body === null) throw new Error(`export: ${res.status} ${await res.text()}`);
  const decoder = new TextDecoder();
  let pending = '';
  const onLine = (line: string) => {
    if (line === '') return;
    const r = JSON.parse(line) as { id: string; message: string };
    tally.records++;
    const seq = seqOf(r.message);
    if (seq < 0 || seq >= tally.counts.length) {
      tally.foreign++;
      return;
    }
    if (r.message !== messageFor(seq, files)) {
      tally.corrupted++;
      return;
    }
    const c = tally.counts[seq]!;
    if (c < 255) tally.counts[seq] = c + 1;
    if (c >= 1 && (tally.duplicateIds.has(seq) || tally.duplicateIds.size < 10)) {
      const ids = tally.duplicateIds.get(seq) ?? [];
      ids.push(r.id);
      tally.duplicateIds.set(seq, ids);
    }
  };
  for await (const chunk of res.body) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      onLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  }
  onLine(pending);
}

/** Ids of every stored copy of a seq (for duplicates: the first copy's id is not kept while tallying). */
export async function idsOfSeq(q: ExportQuery, seq: number, files: number): Promise<string[]> {
  const params = new URLSearchParams({
    cluster: q.cluster,
    start: q.startIso,
    end: q.endIso,
    q: `seq=${seq} file=${seq % files} `,
    limit: '50',
  });
  const res = await fetch(`${q.apiUrl}/v1/k8s/logs/?${params}`, { headers: { authorization: `Bearer ${q.token}` } });
  if (res.status !== 200) return [];
  const body = (await res.json()) as { logs: Array<{ id: string; message: string }> };
  return body.logs.filter((r) => r.message === messageFor(seq, files)).map((r) => r.id);
}

/** Every document's ingested_at − timestamp, ms, sorted ascending. */
export async function storedDelaysMs(opensearchUrl: string, indexPattern: string): Promise<Float64Array> {
  const delays: number[] = [];
  const post = async (url: string, body: unknown) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
    return (await res.json()) as {
      _scroll_id?: string;
      hits: { hits: Array<{ _source: { timestamp: string; ingested_at: string } }> };
    };
  };
  let page = await post(`${opensearchUrl}/${indexPattern}/_search?scroll=2m`, {
    size: 10_000,
    _source: ['timestamp', 'ingested_at'],
    sort: ['_doc'],
    query: { match_all: {} },
  });
  try {
    while (page.hits.hits.length > 0) {
      for (const h of page.hits.hits) delays.push(Date.parse(h._source.ingested_at) - Date.parse(h._source.timestamp));
      page = await post(`${opensearchUrl}/_search/scroll`, { scroll: '2m', scroll_id: page._scroll_id });
    }
  } finally {
    if (page._scroll_id)
      await fetch(`${opensearchUrl}/_search/scroll`, {
        method: 'DELETE',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ scroll_id: page._scroll_id }),
      }).catch(() => undefined);
  }
  return Float64Array.from(delays).sort();
}
