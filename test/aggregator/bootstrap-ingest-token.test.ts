// The agents' ingest token configured by K8S_LOGS_BOOTSTRAP_INGEST_TOKEN/_CLUSTER (what the
// chart sets from the Secret its agents read): live after start for that cluster only, kept
// across restarts, rotated by a new value, untouched by an admin-token rotation, and not
// revocable by hand (a revocation would not survive the next start).
import t from 'tap';
import { buildApp } from '../../aggregator/app.ts';
import { ConfigError, loadConfig } from '../../aggregator/config.ts';
import { openSearchUrl, uniquePrefix } from '../helpers/services.ts';
import { ingest, ndjson } from '../helpers/records.ts';
import { dayRecords } from '../helpers/archive-fixture.ts';

t.test(
  'configuration: the token and its cluster come together, the token is long enough, the cluster a valid id',
  async (t) => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig([], env);
        return [];
      } catch (err) {
        t.ok(err instanceof ConfigError);
        return (err as ConfigError).problems;
      }
    };
    t.same(
      problems({ K8S_LOGS_BOOTSTRAP_INGEST_TOKEN: 'x'.repeat(20), K8S_LOGS_BOOTSTRAP_INGEST_CLUSTER: 'edge' }),
      [],
    );
    t.match(problems({ K8S_LOGS_BOOTSTRAP_INGEST_TOKEN: 'x'.repeat(20) }), [/set together or not at all/]);
    t.match(problems({ K8S_LOGS_BOOTSTRAP_INGEST_CLUSTER: 'edge' }), [/set together or not at all/]);
    t.match(problems({ K8S_LOGS_BOOTSTRAP_INGEST_TOKEN: 'short', K8S_LOGS_BOOTSTRAP_INGEST_CLUSTER: 'edge' }), [
      /at least 16/,
    ]);
    t.match(
      problems({ K8S_LOGS_BOOTSTRAP_INGEST_TOKEN: 'x'.repeat(20), K8S_LOGS_BOOTSTRAP_INGEST_CLUSTER: 'Bad Id' }),
      [/valid cluster id/],
    );
    t.equal(loadConfig([], {}).auth.bootstrapIngest, undefined);
  },
);

t.test(
  'the configured ingest token: one cluster, kept across restarts, rotated by a new value, not revocable by hand',
  async (t) => {
    const opensearchUrl = await openSearchUrl(t);
    const prefix = uniquePrefix('boot-ingest');
    t.teardown(() =>
      fetch(`${opensearchUrl}/${prefix}-*,.${prefix}-*?expand_wildcards=all`, { method: 'DELETE' }).catch(() => {}),
    );
    const first = 'agents-secret-one-0123456789';
    const second = 'agents-secret-two-0123456789';
    const start = async (env: Record<string, string>) => {
      const app = await buildApp({
        ...loadConfig([], {
          OPENSEARCH_URL: opensearchUrl,
          K8S_LOGS_INDEX_PREFIX: prefix,
          K8S_LOGS_LOG_LEVEL: 'silent',
          K8S_LOGS_RATE_LIMIT_STANDARD: '0',
          K8S_LOGS_RATE_LIMIT_HEAVY: '0',
          ...env,
        }),
        port: 0,
        host: '127.0.0.1',
      });
      await app.prepareStore();
      await app.listen({ host: '127.0.0.1', port: 0 });
      return { app, url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` };
    };
    const push = (url: string, token: string, cluster: string) =>
      ingest(url, token, ndjson(dayRecords(cluster, 'web', 0, 3)));
    const admin1 = 'admin-one-0123456789abcdef';

    let agg = await start({
      K8S_LOGS_ADMIN_TOKEN: admin1,
      K8S_LOGS_BOOTSTRAP_INGEST_TOKEN: first,
      K8S_LOGS_BOOTSTRAP_INGEST_CLUSTER: 'edge',
    });
    t.equal((await push(agg.url, first, 'edge')).status, 200, 'the agents of edge ship with it');
    const other = await push(agg.url, first, 'other');
    t.match(other.body, { accepted: 0, rejected: [{ reason: 'cluster_mismatch' }] }, 'as edge only');
    const read = await fetch(`${agg.url}/v1/k8s/logs/?limit=1`, { headers: { authorization: `Bearer ${first}` } });
    t.equal(read.status, 403, 'ingest scope only: it reads nothing');
    const listed = (await (
      await fetch(`${agg.url}/v1/k8s/logs/tokens`, { headers: { authorization: `Bearer ${admin1}` } })
    ).json()) as { tokens: Array<Record<string, unknown>> };
    const mine = listed.tokens.filter((x) => x['id'] === 'bootstrap-ingest-edge');
    t.match(
      mine,
      [{ scopes: ['ingest'], clusters: ['edge'], namespaces: null }],
      'listed once under its fixed id, bound to edge',
    );
    const revoke = await fetch(`${agg.url}/v1/k8s/logs/tokens?id=bootstrap-ingest-edge`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin1}` },
    });
    t.equal(revoke.status, 409);
    t.match(await revoke.json(), {
      error: { code: 'bootstrap_token_protected', message: /K8S_LOGS_BOOTSTRAP_INGEST_TOKEN/ },
    });
    await agg.app.close();

    // A restart with the same value keeps it; a new admin token leaves it alone.
    const admin2 = 'admin-two-0123456789abcdef';
    agg = await start({
      K8S_LOGS_ADMIN_TOKEN: admin2,
      K8S_LOGS_BOOTSTRAP_INGEST_TOKEN: first,
      K8S_LOGS_BOOTSTRAP_INGEST_CLUSTER: 'edge',
    });
    t.equal((await push(agg.url, first, 'edge')).status, 200, 'kept across a restart and an admin-token rotation');
    const oldAdmin = await fetch(`${agg.url}/v1/k8s/logs/tokens`, { headers: { authorization: `Bearer ${admin1}` } });
    t.equal(oldAdmin.status, 401, 'while the admin rotation did revoke the old admin token');
    await agg.app.close();

    // A new value rotates it: the previous secret is refused from this start on.
    agg = await start({
      K8S_LOGS_ADMIN_TOKEN: admin2,
      K8S_LOGS_BOOTSTRAP_INGEST_TOKEN: second,
      K8S_LOGS_BOOTSTRAP_INGEST_CLUSTER: 'edge',
    });
    t.teardown(() => agg.app.close());
    t.equal((await push(agg.url, second, 'edge')).status, 200);
    t.equal((await push(agg.url, first, 'edge')).status, 401, 'the previous secret is revoked');
    const after = (await (
      await fetch(`${agg.url}/v1/k8s/logs/tokens`, { headers: { authorization: `Bearer ${admin2}` } })
    ).json()) as { tokens: Array<Record<string, unknown>> };
    t.equal(after.tokens.filter((x) => x['id'] === 'bootstrap-ingest-edge').length, 1, 'one live token under the id');
  },
);
