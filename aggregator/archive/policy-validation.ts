/**
 * Turns a request body into a usable archive policy, or a 400 that says why: schema
 * (defaults applied first, so omitted optional sections take their documented defaults),
 * then the rules a schema cannot state (archive-policy.ts `policyProblems`), then what only
 * S3 and the store can tell (unknown bucket, unreachable S3, a selection that archives
 * nothing). All problems of one stage are reported together as `details`.
 */
import { Value } from 'typebox/value';
import { AppError, invalidRequest } from '../errors.ts';
import { toAppError, type OpenSearch } from '../store/opensearch.ts';
import {
  ArchivePolicyInputSchema,
  checkPolicyReach,
  policyProblems,
  type ArchivePolicyInput,
} from './archive-policy.ts';
import type { ArchiveBucket } from './s3-bucket.ts';

export function parsePolicyInput(body: unknown, opts: { retentionDays: number }): ArchivePolicyInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalidRequest('the archive policy must be a JSON object');
  const value = Value.Default(ArchivePolicyInputSchema, Value.Clone(body)) as unknown;
  if (!Value.Check(ArchivePolicyInputSchema, value)) {
    const details = [...Value.Errors(ArchivePolicyInputSchema, value)]
      .slice(0, 20)
      .map((e) => ({ field: e.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(body)', reason: e.message }));
    throw invalidRequest('invalid archive policy', details);
  }
  const problems = policyProblems(value, opts);
  if (problems.length > 0)
    throw invalidRequest(
      `invalid archive policy: ${problems.map((p) => `${p.field}: ${p.reason}`).join('; ')}`,
      problems,
    );
  return value;
}

/** 400 when the bucket or S3 is unusable or nothing would be archived; a store failure stays a 5xx. */
export async function assertPolicyUsable(
  p: ArchivePolicyInput,
  deps: { bucket: (name: string) => ArchiveBucket; client: OpenSearch; indexPrefix: string },
): Promise<void> {
  let problems;
  try {
    problems = await checkPolicyReach(p, deps);
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw toAppError(err, 'archive policy check');
  }
  if (problems.length > 0)
    throw invalidRequest(`archive policy cannot be used: ${problems.map((x) => x.reason).join('; ')}`, problems);
}
