/**
 * What the checkpoint machinery needs to know about one file identity being read. Implemented
 * by the per-file pipeline (agent/pipeline.ts).
 */
export interface TrackedFile {
  /** fileKey(cluster, node, identity): the id prefix and checkpoint key. */
  readonly key: string;
  readonly path: string;
  readonly realPath: string;
  readonly dev: string;
  readonly ino: string;
  readonly fingerprint: string;
  /**
   * Smallest file offset whose line has not yet been handed to the batcher (carry, pending
   * partials, held multiline group, line being emitted). Monotonic.
   */
  floor(): number;
  /** Highest offset such that every record starting before it is acknowledged. */
  ackedOffset: number;
  /** Set by the ack tracker when the file is in its dirty set. */
  dirty: boolean;
}
