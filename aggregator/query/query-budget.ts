/**
 * What one API request may spend in the store: how long each store call may run (by
 * request class), how long a time window it may ask for, and a signal that fires when
 * the client goes away. Every OpenSearch search of the retrieval and discovery routes
 * runs under `withDeadline`, which aborts the HTTP request to OpenSearch on either event;
 * OpenSearch cancels a search whose HTTP channel closes, and `cancel_after_time_interval`
 * is the store-side backstop should the abort not reach it. (The body's `timeout` is not
 * used: it makes shards return partial hits as a normal 200, which a page or an export
 * would then silently be short of.)
 *
 * A timed-out store call is a 504 `query_timeout` (the store did not answer in time for
 * this query; a 503 would suggest the store itself is down). A client that went away
 * gets `client_closed_request` (499), which only the log sees.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import { requestClass, type RequestClass } from '../auth/request-class.ts';

export interface QueryLimits {
  readonly standardTimeoutMs: number;
  readonly heavyTimeoutMs: number;
  readonly maxWindowStandardHours: number;
  readonly maxWindowHeavyHours: number;
}

export interface StoreDeadline {
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
  /** Longest one store call may run, ms. */
  readonly timeoutMs: number;
}

export interface QueryBudget extends StoreDeadline {
  readonly requestClass: RequestClass;
  readonly maxWindowHours: number;
}

/** The store's own stop, a little after ours, for a search the abort did not reach. */
const STORE_BACKSTOP_MS = 2000;
/** The client's transport timeout is set past ours so that it never answers first (it would be a 503). */
const TRANSPORT_SLACK_MS = 5000;

/**
 * The budget of one request. The signal is tied to the response: it fires when the
 * connection closes before the response finished.
 */
export function budgetFor(request: FastifyRequest, reply: FastifyReply, limits: QueryLimits): QueryBudget {
  const cls = requestClass(request);
  const controller = new AbortController();
  const raw = reply.raw;
  raw.once('close', () => {
    if (!raw.writableFinished)
      controller.abort(new AppError('AGG_ERR_CLIENT_CLOSED', 'the client closed the connection'));
  });
  return {
    requestClass: cls,
    signal: controller.signal,
    timeoutMs: cls === 'heavy' ? limits.heavyTimeoutMs : limits.standardTimeoutMs,
    maxWindowHours: cls === 'heavy' ? limits.maxWindowHeavyHours : limits.maxWindowStandardHours,
  };
}

const HOUR_NS = 3_600_000_000_000n;

/** 400 `window_too_large` when `end - start` exceeds the class's limit; the message names the limit. */
export function checkWindow(
  budget: Pick<QueryBudget, 'requestClass' | 'maxWindowHours'>,
  startNs: bigint,
  endNs: bigint,
): void {
  const limitNs = BigInt(budget.maxWindowHours) * HOUR_NS;
  if (endNs - startNs <= limitNs) return;
  const asked = Number((endNs - startNs) / HOUR_NS);
  throw new AppError(
    'AGG_ERR_WINDOW_TOO_LARGE',
    `time window of ${asked} h exceeds the ${budget.requestClass} request limit of ${budget.maxWindowHours} h; narrow start/end`,
    { details: [{ limit_hours: budget.maxWindowHours, request_class: budget.requestClass }] },
  );
}

/** Search query-string parameters for a call under `d`: the store-side backstop. */
export function storeTimeoutParams(d: StoreDeadline | undefined): { cancel_after_time_interval?: string } {
  return d ? { cancel_after_time_interval: `${d.timeoutMs + STORE_BACKSTOP_MS}ms` } : {};
}

/** Transport options for a call under `d` (the second argument of the client's methods). */
export function transportOptions(d: StoreDeadline | undefined): { requestTimeout?: number } {
  return d ? { requestTimeout: d.timeoutMs + TRANSPORT_SLACK_MS } : {};
}

/** A started OpenSearch client call: a promise with `abort()` (the client's TransportRequestPromise). */
export interface AbortableCall<T> extends PromiseLike<T> {
  abort(): void;
}

/**
 * Awaits `call`, aborting it when the deadline passes (504 `query_timeout`) or the
 * client goes away (499). Without a deadline it is a plain await.
 */
export function withDeadline<T>(d: StoreDeadline | undefined, what: string, call: AbortableCall<T>): Promise<T> {
  if (!d) return Promise.resolve(call);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      settle();
      call.abort();
      reject(
        d.signal.reason instanceof AppError
          ? d.signal.reason
          : new AppError('AGG_ERR_CLIENT_CLOSED', `${what}: the client went away`),
      );
    };
    const timer = setTimeout(() => {
      settle();
      call.abort();
      reject(
        new AppError(
          'AGG_ERR_QUERY_TIMEOUT',
          `${what}: the query ran longer than ${d.timeoutMs} ms and was cancelled; narrow the time window or the filters`,
        ),
      );
    }, d.timeoutMs);
    const settle = () => {
      clearTimeout(timer);
      d.signal.removeEventListener('abort', onAbort);
    };
    if (d.signal.aborted) return onAbort();
    d.signal.addEventListener('abort', onAbort, { once: true });
    call.then(
      (v) => {
        settle();
        resolve(v);
      },
      (err: unknown) => {
        settle();
        reject(err);
      },
    );
  });
}
