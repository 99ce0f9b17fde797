/**
 * The benchmark's same-run baseline: read the same files from head with the same read size
 * and gzip the bytes in batches of the same size at the same level, with the same number of
 * compressions in flight — the floor any agent pays (I/O + compression), with no parsing,
 * no JSON, no HTTP. Prints `{"cpu_s":…,"wall_s":…,"bytes":…,"gzip_bytes":…}`.
 *
 *   node bench/agent/baseline-process.ts <readBytes> <batchBytes> <gzipLevel> <file>...
 */
import { open } from 'node:fs/promises';
import { gzip } from 'node:zlib';

const [readBytesArg, batchBytesArg, levelArg, ...files] = process.argv.slice(2);
const readBytes = Number(readBytesArg);
const batchBytes = Number(batchBytesArg);
const level = Number(levelArg);

const c0 = process.cpuUsage();
const t0 = performance.now();
let bytes = 0;
let gzBytes = 0;
let inFlight = 0;
let waiters: Array<() => void> = [];
const compress = (buf: Buffer): void => {
  inFlight++;
  gzip(buf, { level }, (err, out) => {
    if (err) throw err;
    gzBytes += out.length;
    inFlight--;
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
};
let batch = Buffer.allocUnsafe(batchBytes);
let used = 0;
const readBuf = Buffer.allocUnsafe(readBytes);
for (const file of files) {
  const fh = await open(file, 'r');
  let pos = 0;
  for (;;) {
    const { bytesRead } = await fh.read(readBuf, 0, readBytes, pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
    bytes += bytesRead;
    let off = 0;
    while (off < bytesRead) {
      const n = Math.min(bytesRead - off, batchBytes - used);
      readBuf.copy(batch, used, off, off + n);
      used += n;
      off += n;
      if (used === batchBytes) {
        while (inFlight >= 2) await new Promise<void>((r) => waiters.push(r));
        compress(batch);
        batch = Buffer.allocUnsafe(batchBytes);
        used = 0;
      }
    }
  }
  await fh.close();
}
if (used > 0) compress(batch.subarray(0, used));
while (inFlight > 0) await new Promise<void>((r) => waiters.push(r));
const c = process.cpuUsage(c0);
process.stdout.write(
  JSON.stringify({
    cpu_s: (c.user + c.system) / 1e6,
    wall_s: (performance.now() - t0) / 1000,
    bytes,
    gzip_bytes: gzBytes,
  }) + '\n',
);
