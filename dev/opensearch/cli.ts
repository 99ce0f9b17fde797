/**
 * Runs the embedded OpenSearch in the foreground until Ctrl-C / SIGTERM:
 *
 *   node dev/opensearch/cli.ts --data-dir .data/opensearch [--port 9200] [--heap-mb 1024]
 *
 * Prints the URL once the cluster is yellow. A node left running on the same data dir by
 * a crashed earlier run is stopped first.
 */
import { parseArgs } from 'node:util';
import { startOpenSearch } from './opensearch-process.ts';

const USAGE =
  'usage: node dev/opensearch/cli.ts --data-dir DIR [--port N] [--heap-mb N] [--cluster-name NAME]';

function parseIntArg(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer, got ${value}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: '.data/opensearch' },
    port: { type: 'string' },
    'heap-mb': { type: 'string' },
    'cluster-name': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const log = (msg: string): void => console.error(`[opensearch] ${msg}`);
const node = await startOpenSearch({
  dataDir: values['data-dir'],
  port: parseIntArg('port', values.port),
  heapMb: parseIntArg('heap-mb', values['heap-mb']),
  clusterName: values['cluster-name'],
  // A developer may kill this terminal; the JVM follows instead of holding the port.
  exitWithParent: true,
  log,
});
console.log(node.url);
log(`logs: ${node.logFile}; Ctrl-C to stop`);

let stopping = false;
const shutdown = (sig: string): void => {
  if (stopping) return;
  stopping = true;
  log(`${sig}: stopping`);
  node.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
const code = await node.exited;
if (!stopping) {
  log(`OpenSearch exited unexpectedly (code ${code}); see ${node.logFile}`);
  process.exit(1);
}
