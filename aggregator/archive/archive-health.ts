/**
 * The `s3` health component: probes (HeadBucket) every bucket an enabled archive policy
 * writes to, once per bucket however many policies share it. The verdict is
 * `s3Verdict` (routes/monitoring/health-checks.ts).
 */
import type { ArchivePolicy } from './archive-policy.ts';
import { S3Failure, type ArchiveBucket } from './s3-bucket.ts';
import { s3Verdict, type ArchiveBucketProbe, type HealthComponent } from '../routes/monitoring/health-checks.ts';

export function archiveHealthComponent(deps: {
  policies: () => Promise<readonly ArchivePolicy[]>;
  bucket: (name: string) => ArchiveBucket;
  /** A bucket answering slower than this makes S3 degraded, ms. */
  slowMs: number;
}): HealthComponent {
  return {
    name: 's3',
    critical: false,
    check: async () => {
      const byBucket = new Map<string, string[]>();
      for (const p of await deps.policies()) {
        if (!p.enabled) continue;
        const names = byBucket.get(p.destination.bucket) ?? [];
        names.push(p.name);
        byBucket.set(p.destination.bucket, names);
      }
      const probes = await Promise.all(
        [...byBucket].map(async ([name, policies]): Promise<ArchiveBucketProbe> => {
          const t0 = performance.now();
          let problem: string | null = null;
          try {
            await deps.bucket(name).check();
          } catch (err) {
            problem = err instanceof S3Failure ? err.kind : 'failed';
          }
          return { bucket: name, policies, problem, latency_ms: Math.round(performance.now() - t0) };
        }),
      );
      return s3Verdict(probes, deps.slowMs);
    },
  };
}
