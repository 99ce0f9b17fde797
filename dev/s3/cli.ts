// Command line for the local S3 server, for CI scripts and by hand:
//
//   node dev/s3/cli.ts install                      build and cache the server (idempotent)
//   node dev/s3/cli.ts start --data-dir .data/s3 [--port 9000] [--bucket NAME]...
//                                                   run in the foreground until Ctrl-C / SIGTERM
//   node dev/s3/cli.ts stop --data-dir .data/s3     stop a server left running on that dir
//   node dev/s3/cli.ts path                         print the binary's path

import { parseArgs } from 'node:util';
import {
  ensureBucket,
  ensureS3ServerInstalled,
  killStaleS3Server,
  s3ServerBinaryPath,
  startS3Server,
} from './s3-server.ts';

const USAGE = `usage:
  node dev/s3/cli.ts install
  node dev/s3/cli.ts start --data-dir DIR [--port N] [--bucket NAME]...
  node dev/s3/cli.ts stop --data-dir DIR
  node dev/s3/cli.ts path`;

const log = (msg: string): void => {
  process.stderr.write(`[s3] ${msg}\n`);
};

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string' },
      port: { type: 'string' },
      bucket: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || command === undefined || positionals.length > 1) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }

  switch (command) {
    case 'install':
      await ensureS3ServerInstalled(log);
      log(`ready: ${s3ServerBinaryPath()}`);
      return 0;

    case 'path':
      process.stdout.write(`${s3ServerBinaryPath()}\n`);
      return 0;

    case 'stop': {
      const dataDir = values['data-dir'];
      if (dataDir === undefined) throw new UsageError('stop needs --data-dir');
      const pid = await killStaleS3Server(dataDir, { log });
      log(pid === undefined ? 'no server running' : `stopped pid ${pid}`);
      return 0;
    }

    case 'start': {
      const dataDir = values['data-dir'];
      if (dataDir === undefined) throw new UsageError('start needs --data-dir');
      let port: number | undefined;
      if (values.port !== undefined) {
        port = Number(values.port);
        if (!Number.isInteger(port) || port < 1 || port > 65_535) {
          throw new UsageError(`--port must be 1-65535, got ${values.port}`);
        }
      }
      await ensureS3ServerInstalled(log);
      const server = await startS3Server({ dataDir, log, ...(port === undefined ? {} : { port }) });
      try {
        for (const bucket of values.bucket ?? []) {
          await ensureBucket(server, bucket);
          log(`bucket ${bucket} ready`);
        }
      } catch (err) {
        await server.stop();
        throw err;
      }
      process.stdout.write(
        [
          `S3_ENDPOINT=${server.endpoint}`,
          `S3_REGION=${server.region}`,
          `S3_ACCESS_KEY_ID=${server.accessKeyId}`,
          `S3_SECRET_ACCESS_KEY=${server.secretAccessKey}`,
          '',
        ].join('\n'),
      );
      log(`running (pid ${server.pid}, log ${server.logFile}); Ctrl-C to stop`);
      const signal = await new Promise<NodeJS.Signals>((resolveSignal) => {
        process.once('SIGINT', () => resolveSignal('SIGINT'));
        process.once('SIGTERM', () => resolveSignal('SIGTERM'));
      });
      log(`${signal}: stopping`);
      await server.stop();
      return 0;
    }

    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (
      err instanceof UsageError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`[s3] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
