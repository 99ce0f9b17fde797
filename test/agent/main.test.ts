import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { containerLogName, cri, startSink, tempDir } from './helpers.ts';

const NODE = process.execPath;
const MAIN = new URL('../../agent/main.ts', import.meta.url).pathname;

function run(args: string[], env: Record<string, string>) {
  const child = spawn(NODE, [MAIN, ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => out, err: () => err };
}

t.test('--help lists every flag with its environment variable', async (t) => {
  const r = run(['--help'], {});
  t.equal(await r.exited, 0);
  t.match(r.out(), /--aggregator-url <string>\s+\[K8S_LOGS_AGENT_AGGREGATOR_URL\]/);
  t.match(r.out(), /--read-from <head\|end>/);
  t.match(r.out(), /--max-batch-bytes/);
});

t.test('configuration errors are reported together, exit 2', async (t) => {
  const r = run(['--gzip-level', '42', '--bogus', 'x'], {});
  t.equal(await r.exited, 2);
  t.match(r.err(), /--aggregator-url .* is required/);
  t.match(r.err(), /--cluster .* is required/);
  t.match(r.err(), /--gzip-level must be in/);
  t.match(r.err(), /unknown flag --bogus/);
});

t.test('SIGTERM drains: batches flushed and checkpoint written before exit', async (t) => {
  const dir = await tempDir(t);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  const sink = await startSink(t);
  const file = join(logs, containerLogName('p', 'ns', 'c'));
  let text = '';
  for (let i = 0; i < 1000; i++) text += cri(`line ${i}`);
  await writeFile(file, text);
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${sink.token}\n`);
  const r = run(
    [
      '--log-path',
      join(logs, '*.log'),
      '--aggregator-url',
      sink.url,
      '--token-file',
      tokenFile,
      '--metrics-port',
      '0',
      '--metrics-host',
      '127.0.0.1',
    ],
    {
      K8S_LOGS_AGENT_DATA_DIR: join(dir, 'data'),
      K8S_LOGS_AGENT_CLUSTER: 'test-cluster',
      NODE_NAME: 'test-node',
      K8S_LOGS_AGENT_KUBERNETES: 'off',
      // A long batch age: only the SIGTERM drain can send the tail in time.
      K8S_LOGS_AGENT_MAX_BATCH_AGE_MS: '600000',
      K8S_LOGS_AGENT_MAX_BATCH_RECORDS: '300',
      K8S_LOGS_AGENT_CHECKPOINT_INTERVAL_MS: '600000',
    },
  );
  t.teardown(() => r.child.kill('SIGKILL'));
  await sink.waitFor(() => sink.uniqueIds >= 900, 10_000, 'three full batches');
  t.equal(sink.uniqueIds, 900, 'the last 100 records wait in the open batch');
  r.child.kill('SIGTERM');
  t.equal(await r.exited, 0, r.err());
  t.equal(sink.uniqueIds, 1000, 'open batch flushed on SIGTERM');
  const cp = JSON.parse(await readFile(join(dir, 'data', 'checkpoints.json'), 'utf8')) as {
    files: Array<{ offset: number }>;
  };
  t.equal(cp.files[0]?.offset, (await stat(file)).size, 'checkpoint at the end of the file');
  t.match(r.out(), /"msg":"agent stopped"/);
});
