/**
 * Streaming compressed-NDJSON writer that cuts the stream into objects of about a target
 * size. The caller pushes lines (in the partition's fixed order); each finished object is
 * handed to `onPart` before more input is accepted, so at most one object (≤ target size
 * plus one flush group) is held in memory.
 *
 * Determinism (so a rerun after a crash rewrites byte-identical objects under the same
 * keys): the compressor is flushed (Z_SYNC_FLUSH / zstd flush) after every
 * `flushEveryRecords` lines and the object is closed at the first such point where its
 * compressed size has reached the target. Cut points therefore depend only on the line
 * sequence and the options, never on timing. gzip output has mtime 0 (Node's default).
 *
 * Not safe for concurrent `push` calls: await each one.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants, createGzip, createZstdCompress, type Gzip, type ZstdCompress } from 'node:zlib';
import type { Compression } from './object-keys.ts';

export interface FinishedPart {
  /** 0-based part number within the partition. */
  part: number;
  body: Buffer;
  records: number;
  /** Timestamps of the first and last record of the part (the order is the caller's). */
  firstTimestamp: string;
  lastTimestamp: string;
  rawBytes: number;
  /** sha256 (hex) of the uncompressed NDJSON of this part. */
  contentSha256: string;
  /** Stored (compressed) size. */
  objectBytes: number;
  /** sha256 (hex) of the stored (compressed) bytes. */
  objectSha256: string;
}

export interface NdjsonPartsOptions {
  compression: Compression;
  /** Close an object once its compressed size reaches this many bytes. */
  targetObjectBytes: number;
  /** Lines between compressor flushes (cut-point candidates); default 1000. */
  flushEveryRecords?: number;
  /** gzip level 1–9 / zstd level; default 6 / 3. */
  level?: number;
  /** Number of the first part (parts before it exist already, sealed); default 0. */
  firstPart?: number;
  /** Running hash of the content before this writer's first line (the sealed parts); default empty. */
  contentHash?: Hash;
  onPart(part: FinishedPart): Promise<void>;
}

type Compressor = Gzip | ZstdCompress;

export class NdjsonParts {
  readonly #opts: Required<Omit<NdjsonPartsOptions, 'level' | 'firstPart' | 'contentHash'>> & {
    level: number | undefined;
  };
  /** sha256 over the uncompressed NDJSON of every part (sealed ones included), in order. */
  readonly #total: Hash;
  #part: number;
  #current: OpenPart | undefined;
  #records = 0;
  #rawBytes = 0;
  #closed = false;

  constructor(opts: NdjsonPartsOptions) {
    if (!(opts.targetObjectBytes >= 1024)) throw new RangeError('targetObjectBytes must be at least 1024');
    this.#opts = {
      flushEveryRecords: 1000,
      compression: opts.compression,
      targetObjectBytes: opts.targetObjectBytes,
      onPart: opts.onPart,
      level: opts.level,
    };
    this.#part = opts.firstPart ?? 0;
    this.#total = opts.contentHash ?? createHash('sha256');
  }

  /** `line` is one JSON object without the trailing newline. */
  async push(line: string, timestamp: string): Promise<void> {
    if (line.includes('\n')) throw new Error('NdjsonParts: a line may not contain a newline');
    if (this.#closed) throw new Error('NdjsonParts: push after end');
    const part = (this.#current ??= new OpenPart(this.#part, this.#opts.compression, this.#opts.level));
    const data = line + '\n';
    part.write(data, timestamp);
    this.#total.update(data);
    this.#records++;
    this.#rawBytes += Buffer.byteLength(data);
    if (part.records % this.#opts.flushEveryRecords === 0) {
      await part.flush();
      if (part.storedBytes >= this.#opts.targetObjectBytes) await this.#finishPart();
    }
  }

  /** Closes the last object; returns the partition totals. Idempotent for the totals. */
  async end(): Promise<{
    /** Number after the last part. */ parts: number;
    records: number;
    rawBytes: number;
    contentSha256: string;
  }> {
    if (!this.#closed) {
      this.#closed = true;
      if (this.#current) await this.#finishPart();
    }
    return {
      parts: this.#part,
      records: this.#records,
      rawBytes: this.#rawBytes,
      contentSha256: this.#total.copy().digest('hex'),
    };
  }

  async #finishPart(): Promise<void> {
    const part = this.#current!;
    this.#current = undefined;
    this.#part++;
    await this.#opts.onPart(await part.finish());
  }
}

class OpenPart {
  readonly #part: number;
  readonly #z: Compressor;
  /** Sync flush: output up to here is complete, the dictionary is kept (a full flush would cost ratio). */
  readonly #flushKind: number;
  readonly #chunks: Buffer[] = [];
  readonly #content: Hash = createHash('sha256');
  records = 0;
  storedBytes = 0;
  rawBytes = 0;
  firstTimestamp = '';
  lastTimestamp = '';

  constructor(part: number, compression: Compression, level: number | undefined) {
    this.#part = part;
    this.#flushKind = compression === 'gzip' ? constants.Z_SYNC_FLUSH : constants.ZSTD_e_flush;
    this.#z =
      compression === 'gzip'
        ? createGzip({ level: level ?? 6 })
        : createZstdCompress(level === undefined ? {} : { params: { [constants.ZSTD_c_compressionLevel]: level } });
    this.#z.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.storedBytes += chunk.length;
    });
  }

  write(data: string, timestamp: string): void {
    if (this.records === 0) this.firstTimestamp = timestamp;
    this.lastTimestamp = timestamp;
    this.records++;
    this.rawBytes += Buffer.byteLength(data);
    this.#content.update(data);
    this.#z.write(data);
  }

  flush(): Promise<void> {
    return new Promise((resolve) => this.#z.flush(this.#flushKind, () => resolve()));
  }

  finish(): Promise<FinishedPart> {
    return new Promise((resolve, reject) => {
      this.#z.once('error', reject);
      this.#z.once('end', () => {
        const body = Buffer.concat(this.#chunks);
        resolve({
          part: this.#part,
          body,
          records: this.records,
          firstTimestamp: this.firstTimestamp,
          lastTimestamp: this.lastTimestamp,
          rawBytes: this.rawBytes,
          contentSha256: this.#content.digest('hex'),
          objectBytes: body.length,
          objectSha256: createHash('sha256').update(body).digest('hex'),
        });
      });
      this.#z.end();
    });
  }
}
