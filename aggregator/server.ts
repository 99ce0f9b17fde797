#!/usr/bin/env node
/**
 * Entry point: parse config, build the app, listen, prepare the store (retrying until
 * OpenSearch answers), and drain on SIGTERM/SIGINT.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp } from './app.ts';
import { ConfigError, HELP, loadConfig } from './config.ts';
import { drain } from './drain.ts';

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  let config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${(err as Error).message}\n\n${HELP}`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  const app = await buildApp(config);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'draining');
    drain(app).then(() => process.exit(0), (err: unknown) => {
      app.log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await app.listen({ host: config.host, port: config.port });
  for (let attempt = 1; !closing; attempt++) {
    try {
      const { generatedAdminToken } = await app.prepareStore();
      if (generatedAdminToken) {
        process.stdout.write(`\nGenerated bootstrap admin token (shown once, store it now):\n  ${generatedAdminToken}\n\n`);
      }
      app.log.info('store ready');
      app.startJobs();
      break;
    } catch (err) {
      app.log.warn({ err: (err as Error).message, attempt }, 'store not ready; retrying');
      await sleep(Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)));
    }
  }
}

await main();
