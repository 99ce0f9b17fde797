/** Builders for log records and ingest requests used across aggregator tests. */
import { gzipSync } from 'node:zlib';
import type { LogRecord } from '../../shared/record.ts';

let seq = 0;

export function record(over: Partial<LogRecord> & { cluster: string }): LogRecord {
  seq++;
  return {
    id: `test${process.pid}-${seq.toString(36).padStart(6, '0')}`,
    timestamp: new Date(Date.now() - 60_000 + seq).toISOString().replace('Z', '123456Z'),
    namespace: 'default',
    pod: 'web-1',
    container: 'app',
    stream: 'stdout',
    level: 'info',
    message: `line ${seq}`,
    ...over,
  };
}

export function ndjson(records: ReadonlyArray<object | string>): Buffer {
  return Buffer.from(records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n');
}

export async function ingest(url: string, token: string, body: Buffer, opts: { gzip?: boolean; contentType?: string } = {}) {
  const gz = opts.gzip !== false;
  const res = await fetch(`${url}/v1/ingest`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': opts.contentType ?? 'application/x-ndjson',
      ...(gz ? { 'content-encoding': 'gzip' } : {}),
    },
    body: gz ? gzipSync(body) : body,
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

export async function getJson(url: string, token: string | undefined) {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}
