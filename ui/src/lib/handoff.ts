/**
 * One timeline from history to live, pure: the result list holds the records the history
 * query returned (newest first); the live tail (`GET /tail?since=<newest timestamp>`) then
 * sends the stored records from that instant on and the live ones. Records at the boundary
 * come twice (the history has some of them): merging by record id keeps each once, so the
 * hand-off has no gap (the tail starts at the newest history timestamp, inclusive) and no
 * duplicate. The timeline stays newest first; a live record older than the newest shown
 * (an agent catching up) is inserted at its place.
 */

export interface TimelineRecord {
  id: string;
  timestamp: string;
}

export class Timeline<R extends TimelineRecord> {
  /** Newest first. */
  records: R[] = [];
  readonly #ids = new Set<string>();
  /** Records offered (history + live) including duplicates. */
  received = 0;
  duplicates = 0;

  /** Replaces the content with a history page (newest first). */
  reset(history: readonly R[]): void {
    this.records = [];
    this.#ids.clear();
    this.received = 0;
    this.duplicates = 0;
    this.appendOlder(history);
  }

  /** Older records (the next history page, newest first) at the end. */
  appendOlder(page: readonly R[]): void {
    for (const r of page) {
      this.received++;
      if (this.#ids.has(r.id)) {
        this.duplicates++;
        continue;
      }
      this.#ids.add(r.id);
      this.records.push(r);
    }
  }

  /** Live records (any order); returns how many were new. Keeps the list newest first. */
  addLive(batch: readonly R[]): number {
    let added = 0;
    for (const r of batch) {
      this.received++;
      if (this.#ids.has(r.id)) {
        this.duplicates++;
        continue;
      }
      this.#ids.add(r.id);
      added++;
      const first = this.records[0];
      if (!first || r.timestamp >= first.timestamp) {
        this.records.unshift(r);
        continue;
      }
      // Binary search for the first record older than r (canonical timestamps order as strings).
      let lo = 0;
      let hi = this.records.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.records[mid]!.timestamp > r.timestamp) lo = mid + 1;
        else hi = mid;
      }
      this.records.splice(lo, 0, r);
    }
    return added;
  }

  /** The `since` of the hand-off: the newest timestamp shown (undefined when empty). */
  since(): string | undefined {
    return this.records[0]?.timestamp;
  }

  /** Drops the oldest beyond `max` (a long live session stays bounded). Returns how many. */
  trim(max: number): number {
    const over = this.records.length - max;
    if (over <= 0) return 0;
    for (const r of this.records.splice(max)) this.#ids.delete(r.id);
    return over;
  }
}
