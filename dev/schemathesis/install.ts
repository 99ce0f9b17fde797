/**
 * `node dev/schemathesis/install.ts`: installs the pinned schemathesis into its venv under
 * ~/.cache/k8s-logs (see schemathesis-venv.ts) and prints the executable's path. .ci/run
 * calls it before `npm test`, whose API fuzz test needs it.
 */
import { ensureSchemathesis } from './schemathesis-venv.ts';

process.stdout.write(`${await ensureSchemathesis((m) => process.stderr.write(`[schemathesis] ${m}\n`))}\n`);
