/**
 * Graceful stop of the aggregator (SIGTERM/SIGINT): `app.close()` stops accepting, lets the
 * requests in progress finish and closes the connections that are idle. A keep-alive
 * connection that has not sent a request yet (a client's spare socket) does not count as
 * idle to Node, and would hold `close()` until its header timeout (~70 s), past any
 * Kubernetes termination grace. After `graceMs` every connection left is destroyed, so the
 * drain ends in bounded time; a request still running then is cut off (its client retries:
 * agents resend, the API is read-only or idempotent apart from token and config writes).
 */
import type { FastifyInstance } from 'fastify';

/** Default drain grace, ms: well inside Kubernetes' default 30 s termination grace period. */
export const DRAIN_GRACE_MS = 10_000;

/** Closes the app; after `graceMs` every remaining connection is destroyed. Resolves once closed. */
export async function drain(app: FastifyInstance, graceMs = DRAIN_GRACE_MS): Promise<void> {
  const timer = setTimeout(() => {
    app.log.warn({ grace_ms: graceMs }, 'drain grace over; closing the remaining connections');
    app.server.closeAllConnections();
  }, graceMs);
  timer.unref();
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}
