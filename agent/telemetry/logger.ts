/**
 * The agent's structured JSON logger (pino). One root logger per agent instance; stages get
 * children with a `component` binding. Tests pass their own destination or level `silent`.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, bindings: Record<string, string>, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'k8s-logs-agent', ...bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
