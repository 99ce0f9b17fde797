/**
 * The loopback ingest sink (test/helpers/ingest-sink.ts) in its own process, so its CPU is
 * not charged to the agent. Prints `{"port":N}` on stdout, then answers IPC `stats`
 * messages with its counters.
 */
import { IngestSink } from '../../test/helpers/ingest-sink.ts';

const sink = await IngestSink.start({ keepRecords: false, keepIds: true, token: 'bench-token' });
process.stdout.write(JSON.stringify({ port: sink.port }) + '\n');
process.on('message', (msg: unknown) => {
  if (msg === 'stats') {
    process.send!({
      received: sink.received,
      unique: sink.uniqueIds,
      requests: sink.requests,
      bodyBytes: sink.bodyBytes,
    });
  } else if (msg === 'exit') {
    void sink.close().then(() => process.exit(0));
  }
});
