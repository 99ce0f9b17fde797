/**
 * undici's Pool and its `request` API, loaded without the rest of undici. Importing the
 * package entry point loads fetch, WebSocket, caches, mocks and more: ~11 MiB of RSS that
 * the agent never uses (measured for bench/agent/throughput.bench.ts, whose goal is a
 * 96 MiB peak). Only the Pool module and the request API module are loaded; if a future
 * undici moves them, the full package is the fallback, so this can cost memory but never
 * break sending.
 */
import { createRequire } from 'node:module';
import type { Dispatcher, Pool as UndiciPool } from 'undici';

export type Pool = UndiciPool;

const require = createRequire(import.meta.url);

type RequestFn = (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

function load(): { Pool: typeof UndiciPool; request: RequestFn } {
  try {
    const PoolClass = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
    const request = require('undici/lib/api/api-request.js') as RequestFn;
    if (typeof PoolClass === 'function' && typeof request === 'function') return { Pool: PoolClass, request };
  } catch {
    // fall through
  }
  const full = require('undici') as { Pool: typeof UndiciPool };
  return { Pool: full.Pool, request: full.Pool.prototype.request as unknown as RequestFn };
}

const loaded = load();

export const Pool: typeof UndiciPool = loaded.Pool;

/** `pool.request(opts)` without needing undici's entry point to have patched the prototype. */
export function request(pool: Dispatcher, opts: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  return loaded.request.call(pool, opts);
}
