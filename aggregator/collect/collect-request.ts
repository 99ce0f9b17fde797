/**
 * Collect requests → job parameters. Pure: `now` and the limits are passed in, so a
 * request resolves its times once. Every refusal is an AppError 400 (`invalid_request`)
 * with a message naming the field.
 *
 * - Selection: one-time jobs need `pods` or `label_selector` (not both); continuous jobs
 *   take either or neither (the whole namespace); bulk takes a selector and/or a namespace
 *   (neither: the whole cluster, restricted to the token's namespaces).
 * - Window: at most one of `since_seconds` / `since_time`; `since_seconds` becomes an
 *   absolute `since_time` (a job resumed an hour later must not read a different window);
 *   a `since_time` in the future selects nothing and is refused. `end_time` must be ahead.
 */
import { invalidRequest } from '../errors.ts';
import { LabelSelectorError, parseLabelSelector } from '../../shared/label-selector.ts';
import { formatNanos, parseRfc3339Nanos } from '../../shared/time.ts';
import type { BulkBody, CollectParams, ContinuousBody, OneTimeBody } from './collect-schemas.ts';

export interface RequestLimits {
  /** Containers a one-time job reads at once. */
  oneTimeConcurrency: number;
  bulkConcurrencyDefault: number;
  bulkConcurrencyMax: number;
}

type Window = Pick<OneTimeBody, 'since_seconds' | 'since_time' | 'tail_lines'>;

/** Pure: the selector checked (400 with the parser's reason), or null. */
export function checkSelector(selector: string | undefined): string | null {
  if (selector === undefined) return null;
  try {
    parseLabelSelector(selector);
  } catch (err) {
    if (err instanceof LabelSelectorError) throw invalidRequest(`label_selector: ${err.message}`);
    throw err;
  }
  return selector;
}

/** Pure: the window's start as a canonical instant, or null (whole log). */
export function resolveSince(w: Window, now: bigint): string | null {
  if (w.since_seconds !== undefined && w.since_time !== undefined)
    throw invalidRequest('give at most one of since_seconds and since_time');
  if (w.since_seconds !== undefined) return formatNanos(now - BigInt(w.since_seconds) * 1_000_000_000n);
  if (w.since_time === undefined) return null;
  const ns = parseRfc3339Nanos(w.since_time);
  if (ns === undefined) throw invalidRequest(`since_time "${w.since_time}" is not an RFC 3339 instant`);
  if (ns > now) throw invalidRequest(`since_time "${w.since_time}" is in the future`);
  return formatNanos(ns);
}

function base(
  body: { cluster: string; containers?: string[] | undefined; include_init_containers?: boolean | undefined },
  now: bigint,
) {
  return {
    cluster: body.cluster,
    containers: body.containers ?? null,
    include_init_containers: body.include_init_containers ?? false,
    submitted_at: formatNanos(now),
  };
}

export function oneTimeParams(body: OneTimeBody, now: bigint, limits: RequestLimits): CollectParams {
  if (body.pods && body.label_selector !== undefined) throw invalidRequest('give pods or label_selector, not both');
  if (!body.pods && body.label_selector === undefined) throw invalidRequest('give pods (names) or label_selector');
  return {
    ...base(body, now),
    namespaces: [body.namespace],
    pods: body.pods ?? null,
    label_selector: checkSelector(body.label_selector),
    since_time: resolveSince(body, now),
    tail_lines: body.tail_lines ?? null,
    limit_bytes: body.limit_bytes ?? null,
    previous: body.previous ?? false,
    end_time: null,
    concurrency: limits.oneTimeConcurrency,
    streams_reserved: 0,
  };
}

export function continuousParams(body: ContinuousBody, now: bigint): CollectParams {
  if (body.pods && body.label_selector !== undefined) throw invalidRequest('give pods or label_selector, not both');
  let end: string | null = null;
  if (body.end_time !== undefined) {
    const ns = parseRfc3339Nanos(body.end_time);
    if (ns === undefined) throw invalidRequest(`end_time "${body.end_time}" is not an RFC 3339 instant`);
    if (ns <= now) throw invalidRequest(`end_time "${body.end_time}" is not in the future`);
    end = formatNanos(ns);
  }
  return {
    ...base(body, now),
    namespaces: [body.namespace],
    pods: body.pods ?? null,
    label_selector: checkSelector(body.label_selector),
    since_time: resolveSince(body, now),
    tail_lines: body.tail_lines ?? null,
    limit_bytes: null,
    previous: false,
    end_time: end,
    concurrency: 1,
    streams_reserved: 0,
  };
}

/** `namespaces`: the bulk's namespaces when the body names none (the token's, or null = all). */
export function bulkParams(
  body: BulkBody,
  now: bigint,
  limits: RequestLimits,
  namespaces: readonly string[] | null,
): CollectParams {
  const concurrency = Math.min(body.concurrency ?? limits.bulkConcurrencyDefault, limits.bulkConcurrencyMax);
  return {
    ...base(body, now),
    namespaces: body.namespace !== undefined ? [body.namespace] : namespaces ? [...namespaces] : null,
    pods: null,
    label_selector: checkSelector(body.label_selector),
    since_time: resolveSince(body, now),
    tail_lines: body.tail_lines ?? null,
    limit_bytes: body.limit_bytes ?? null,
    previous: false,
    end_time: null,
    concurrency,
    streams_reserved: concurrency,
  };
}
