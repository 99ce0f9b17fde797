/**
 * Leases on job documents in the `jobs` system index (DESIGN.md §5): a replica runs a job
 * only while it holds the job's lease (owner + expiry). Every write is conditional — the
 * first with `op_type: create`, later ones with `if_seq_no` + `if_primary_term` — so when
 * two replicas race, exactly one write wins and the other sees a 409 and backs off.
 *
 * Expiry is compared with the local clock: replicas' clocks must agree to well within the
 * lease TTL (NTP-level skew is fine with TTLs of minutes). A holder that runs longer than
 * its TTL must `renew()`; a renewal that finds the lease taken throws LeaseLostError.
 */
import type { OpenSearch } from '../store/opensearch.ts';
import { storeStatus } from '../store/opensearch.ts';
import { systemIndexName } from '../store/system-indices.ts';

export interface JobDocument {
  job: string;
  owner?: string;
  lease_expires_at?: string;
  acquired_at?: string;
  last_started_at?: string;
  last_finished_at?: string;
  last_result?: Record<string, unknown>;
}

export interface Lease {
  readonly job: string;
  readonly owner: string;
  readonly expiresAt: Date;
  readonly seqNo: number;
  readonly primaryTerm: number;
  /** The document as this lease last wrote it. */
  readonly doc: JobDocument;
  /** The document as it was before this lease was taken (previous run's outcome). */
  readonly previous: JobDocument | undefined;
}

export type AcquireResult =
  | { acquired: true; lease: Lease }
  | { acquired: false; holder: string | undefined; expiresAt: string | undefined };

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

/** Pure: may `owner` take the lease described by `doc` at `now`? */
export function leaseAvailable(doc: JobDocument | undefined, owner: string, now: Date): boolean {
  if (!doc?.owner || !doc.lease_expires_at) return true;
  if (doc.owner === owner) return true;
  return Date.parse(doc.lease_expires_at) <= now.getTime();
}

export class JobLeases {
  readonly #client: OpenSearch;
  readonly #index: string;

  constructor(client: OpenSearch, indexPrefix: string) {
    this.#client = client;
    this.#index = systemIndexName(indexPrefix, 'jobs');
  }

  async read(job: string): Promise<{ doc: JobDocument; seqNo: number; primaryTerm: number } | undefined> {
    try {
      const res = await this.#client.get({ index: this.#index, id: job });
      return { doc: res.body._source as JobDocument, seqNo: res.body._seq_no as number, primaryTerm: res.body._primary_term as number };
    } catch (err) {
      if (storeStatus(err) === 404) return undefined;
      throw err;
    }
  }

  async acquire(job: string, owner: string, ttlMs: number, now = new Date()): Promise<AcquireResult> {
    const current = await this.read(job);
    if (!leaseAvailable(current?.doc, owner, now)) {
      return { acquired: false, holder: current?.doc.owner, expiresAt: current?.doc.lease_expires_at };
    }
    const expiresAt = new Date(now.getTime() + ttlMs);
    const body: JobDocument = {
      ...current?.doc,
      job,
      owner,
      acquired_at: now.toISOString(),
      lease_expires_at: expiresAt.toISOString(),
    };
    try {
      const res = await this.#client.index({
        index: this.#index,
        id: job,
        body,
        ...(current ? { if_seq_no: current.seqNo, if_primary_term: current.primaryTerm } : { op_type: 'create' as const }),
      });
      return {
        acquired: true,
        lease: { job, owner, expiresAt, seqNo: res.body._seq_no, primaryTerm: res.body._primary_term, doc: body, previous: current?.doc },
      };
    } catch (err) {
      if (storeStatus(err) !== 409) throw err;
      const winner = await this.read(job);
      return { acquired: false, holder: winner?.doc.owner, expiresAt: winner?.doc.lease_expires_at };
    }
  }

  /** Extends the lease; throws LeaseLostError when another replica has taken it meanwhile. */
  async renew(lease: Lease, ttlMs: number, now = new Date()): Promise<Lease> {
    const expiresAt = new Date(now.getTime() + ttlMs);
    const written = await this.#conditionalWrite(lease, { lease_expires_at: expiresAt.toISOString() });
    return { ...lease, expiresAt, ...written };
  }

  /** Ends the lease now, recording the run's outcome. Throws LeaseLostError when no longer held. */
  async release(lease: Lease, outcome: { startedAt: Date; result: Record<string, unknown> }, now = new Date()): Promise<void> {
    await this.#conditionalWrite(lease, {
      lease_expires_at: now.toISOString(),
      last_started_at: outcome.startedAt.toISOString(),
      last_finished_at: now.toISOString(),
      last_result: outcome.result,
    });
  }

  /** Replaces the whole document (no partial merge of `last_result`) if it is still ours. */
  async #conditionalWrite(lease: Lease, fields: Partial<JobDocument>): Promise<{ seqNo: number; primaryTerm: number; doc: JobDocument }> {
    const doc = { ...lease.doc, ...fields };
    try {
      const res = await this.#client.index({
        index: this.#index,
        id: lease.job,
        if_seq_no: lease.seqNo,
        if_primary_term: lease.primaryTerm,
        body: doc,
      });
      return { seqNo: res.body._seq_no, primaryTerm: res.body._primary_term, doc };
    } catch (err) {
      if (storeStatus(err) === 409 || storeStatus(err) === 404) {
        throw new LeaseLostError(`lease on job ${lease.job} was taken over`, { cause: err });
      }
      throw err;
    }
  }
}
