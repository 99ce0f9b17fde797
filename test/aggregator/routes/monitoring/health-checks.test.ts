import t from 'tap';
import {
  agentStates,
  agentsVerdict,
  clustersVerdict,
  httpStatusOf,
  jobsVerdict,
  openSearchVerdict,
  overallStatus,
  runHealth,
  s3Verdict,
  type HealthComponent,
  type StoredHeartbeat,
} from '../../../../aggregator/routes/monitoring/health-checks.ts';
import { sumAgentFigures } from '../../../../aggregator/routes/monitoring/agent-figures.ts';

t.test('overall status: worst component, a non-critical down only degrades; 503 only when down', async (t) => {
  const table = [
    { components: [], want: 'ok' },
    {
      components: [
        { status: 'ok', critical: true },
        { status: 'ok', critical: false },
      ],
      want: 'ok',
    },
    {
      components: [
        { status: 'ok', critical: true },
        { status: 'degraded', critical: false },
      ],
      want: 'degraded',
    },
    {
      components: [
        { status: 'ok', critical: true },
        { status: 'down', critical: false },
      ],
      want: 'degraded',
    },
    {
      components: [
        { status: 'degraded', critical: true },
        { status: 'ok', critical: false },
      ],
      want: 'degraded',
    },
    {
      components: [
        { status: 'down', critical: true },
        { status: 'ok', critical: false },
      ],
      want: 'down',
    },
  ] as const;
  for (const row of table) t.equal(overallStatus(row.components), row.want, JSON.stringify(row.components));
  t.equal(httpStatusOf('ok'), 200);
  t.equal(httpStatusOf('degraded'), 200);
  t.equal(httpStatusOf('down'), 503);
});

t.test('OpenSearch verdict follows cluster health, then latency', async (t) => {
  const table = [
    { status: 'green', ms: 10, want: 'ok' },
    { status: 'green', ms: 1500, want: 'degraded' },
    { status: 'yellow', ms: 10, want: 'degraded' },
    { status: 'red', ms: 10, want: 'down' },
    { status: undefined, ms: 10, want: 'degraded' },
  ];
  for (const row of table) {
    const v = openSearchVerdict({ status: row.status, number_of_nodes: 1 }, row.ms, 1000);
    t.equal(v.status, row.want, `${row.status} in ${row.ms} ms`);
    t.equal(v.details?.['latency_ms'], row.ms);
  }
});

const hb = (
  cluster: string,
  node: string,
  receivedAt: string,
  extra: Partial<StoredHeartbeat> = {},
): StoredHeartbeat => ({
  cluster,
  node,
  agent_version: '0.1.0',
  files_watched: 1,
  bytes_behind: 0,
  sent_at: receivedAt,
  received_at: receivedAt,
  ...extra,
});

t.test('agents and clusters: stale after the threshold; a cluster with every agent silent is down', async (t) => {
  const now = Date.parse('2026-11-20T12:00:00Z');
  const states = agentStates(
    [
      hb('alpha', 'a', '2026-11-20T11:59:30Z', { bytes_behind: 5 }),
      hb('alpha', 'b', '2026-11-20T11:58:29Z'), // 91 s ago: stale at 90 s
      hb('beta', 'c', '2026-11-20T11:00:00Z', { bytes_behind: 7 }),
    ],
    now,
    90_000,
  );
  t.same(
    states.map((s) => s.stale),
    [false, true, true],
  );
  const clusters = clustersVerdict(states);
  t.equal(clusters.status, 'down');
  t.same(
    (clusters.details?.['clusters'] as Array<{ cluster: string; status: string }>).map((c) => [c.cluster, c.status]),
    [
      ['alpha', 'degraded'],
      ['beta', 'down'],
    ],
  );
  const agents = agentsVerdict(states);
  t.equal(agents.status, 'degraded');
  t.equal(agents.reason, '2 of 3 agent(s) silent');
  t.equal(agents.details?.['bytes_behind'], 12);
  t.equal(agentsVerdict([]).status, 'ok');
  t.equal(agentsVerdict(states.filter((s) => s.stale)).status, 'down');
  t.equal(clustersVerdict(states.filter((s) => !s.stale)).status, 'ok');
});

t.test('jobs: the latest job of a type failed, or a job running on an expired lease, degrades', async (t) => {
  const now = Date.parse('2026-11-20T12:00:00Z');
  t.equal(jobsVerdict([], now).reason, 'no job has run yet');
  const ok = {
    id: 'r1',
    type: 'retention',
    status: 'succeeded',
    created_at: '2026-11-20T11:00:00Z',
    finished_at: '2026-11-20T11:00:01Z',
  };
  const failedEarlier = {
    id: 'r0',
    type: 'retention',
    status: 'failed',
    created_at: '2026-11-20T10:00:00Z',
    error: { code: 'handler_failed' },
  };
  t.same(
    jobsVerdict([ok, failedEarlier], now),
    {
      status: 'ok',
      reason: '1 job type(s), none failing',
      details: {
        by_status: { succeeded: 1, failed: 1 },
        latest: [
          {
            type: 'retention',
            id: 'r1',
            status: 'succeeded',
            created_at: '2026-11-20T11:00:00Z',
            finished_at: '2026-11-20T11:00:01Z',
          },
        ],
      },
    },
    'an older failure is history',
  );
  const failedLatest = { ...failedEarlier, id: 'r2', created_at: '2026-11-20T11:30:00Z' };
  t.equal(jobsVerdict([ok, failedLatest], now).reason, 'retention: latest job r2 failed (handler_failed)');
  const orphan = {
    id: 'c1',
    type: 'collect',
    status: 'running',
    created_at: '2026-11-20T11:50:00Z',
    lease_expires_at: '2026-11-20T11:59:00Z',
  };
  t.equal(jobsVerdict([orphan], now).status, 'degraded');
  t.equal(
    jobsVerdict([{ ...orphan, lease_expires_at: '2026-11-20T12:01:00Z' }], now).status,
    'ok',
    'running under a live lease',
  );
  t.equal(
    jobsVerdict([{ job: 'retention' } as never], now).reason,
    'no job has run yet',
    'legacy lease documents are ignored',
  );
});

t.test('runHealth: a probe that throws or hangs is down; the others still report', async (t) => {
  let release!: () => void;
  const hung = new Promise<void>((resolve) => (release = resolve));
  t.teardown(() => release());
  const components: HealthComponent[] = [
    { name: 'store', critical: true, check: async () => ({ status: 'ok', reason: 'fine' }) },
    {
      name: 'broken',
      critical: false,
      check: async () => {
        throw Object.assign(new Error('secret internals'), { statusCode: 500 });
      },
    },
    {
      name: 'hung',
      critical: true,
      check: async () => {
        await hung;
        return { status: 'ok', reason: 'late' };
      },
    },
  ];
  const report = await runHealth(components, 50);
  t.same(
    report.components.map((c) => [c.name, c.status, c.reason]),
    [
      ['store', 'ok', 'fine'],
      ['broken', 'down', 'check failed: HTTP 500'],
      ['hung', 'down', 'no answer within 50 ms'],
    ],
  );
  t.equal(report.status, 'down', 'a critical component down');
});

t.test('agent figures: sums by reason over the latest heartbeats, unknown reasons as other', async (t) => {
  const f = sumAgentFigures([
    hb('alpha', 'a', '2026-11-20T11:59:30Z', {
      discarded: { rate_limited: 5, line_truncated: 2 },
      rejected: { too_old: 1 },
      bytes_behind: 100,
    }),
    hb('alpha', 'b', '2026-11-20T11:59:30Z', { discarded: { rate_limited: 3, made_up: 4 } }),
    hb('beta', 'c', '2026-11-20T11:59:30Z', { bytes_behind: 7 }),
  ]);
  t.same(f, {
    agents_reporting: 2,
    agents: 3,
    discarded: { line_truncated: 2, other: 4, rate_limited: 8 },
    rejected: { too_old: 1 },
    bytes_behind: 107,
  });
});

t.test('S3 verdict: every enabled policy bucket answers, else down naming the bucket; slow degrades', async (t) => {
  const probe = (bucket: string, problem: string | null, latency_ms = 5, policies = ['p']) => ({
    bucket,
    policies,
    problem,
    latency_ms,
  });
  t.match(s3Verdict([], 1000), { status: 'ok', reason: 'no enabled archive policy: S3 is not in use' });
  t.match(s3Verdict([probe('b', null), probe('a', null)], 1000), {
    status: 'ok',
    reason: '2 archive bucket(s) answering',
    details: {
      buckets: [
        { bucket: 'a', reachable: true },
        { bucket: 'b', reachable: true },
      ],
    },
  });
  const down = s3Verdict([probe('a', null), probe('b', 'no_such_bucket', 5, ['z', 'y'])], 1000);
  t.equal(down.status, 'down');
  t.equal(down.reason, '1 of 2 archive bucket(s) not answering: bucket "b": no_such_bucket (policies y, z)');
  t.same((down.details as any).buckets[1], {
    bucket: 'b',
    reachable: false,
    problem: 'no_such_bucket',
    policies: ['y', 'z'],
    latency_ms: 5,
  });
  t.match(s3Verdict([probe('a', null, 1500)], 1000), {
    status: 'degraded',
    reason: 'slow: bucket "a" answered in 1500 ms (over 1000 ms)',
  });
  t.equal(s3Verdict([probe('a', 'unreachable', 1500)], 1000).status, 'down', 'down outranks slow');
});
