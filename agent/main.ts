#!/usr/bin/env -S node --max-semi-space-size=2
/**
 * k8s-logs-agent CLI: parse flags and environment, print `--help`, start the agent, drain on
 * SIGTERM/SIGINT within the grace period. Everything else lives in agent.ts.
 *
 * The interpreter line carries the V8 flags the agent is meant to run with (the container
 * entrypoint and bench/agent/throughput.bench.ts use the same): a 2 MiB young-generation
 * semi-space instead of V8's 16 MiB default keeps ~25 MiB of RSS off a per-node daemon whose
 * allocations are short-lived strings; it costs a few percent of CPU in more frequent
 * scavenges (measured in bench/agent/throughput.bench.ts).
 */
import { readFileSync } from 'node:fs';
import { startAgent } from './agent.ts';
import { helpText, loadConfig } from './config.ts';
import { ConfigError } from './errors.ts';

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText());
    return 0;
  }
  let config;
  try {
    config = loadConfig({ argv, env: process.env, readFile: (p) => readFileSync(p, 'utf8') });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n\nRun with --help for the list of settings.\n`);
      return 2;
    }
    throw err;
  }
  const agent = await startAgent(config);
  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.stderr.write(`received ${sig}; draining (grace ${config.shutdownGraceMs} ms)\n`);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await agent.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`k8s-logs-agent: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
