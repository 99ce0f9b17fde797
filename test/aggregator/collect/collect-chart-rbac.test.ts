// Collect jobs with the credentials the chart installs for them
// (`apiReader.create`): the api-reader ServiceAccount's token, rendered by the
// real helm and created in the real kube-apiserver, is a cluster's registered API connection.
// A one-time job by label selector, a continuous job (pod list + watch, follow, namespace
// read) and the live view all work through it, and the account may do nothing else.
import t from 'tap';
import { collectStack } from './collect-fixture.ts';
import { apiReaderServiceAccount } from '../../helpers/chart-rbac.ts';
import { serviceAccountCan } from '../../helpers/kube.ts';
import { waitFor, waitForValue } from '../../helpers/wait-for.ts';

const stack = await collectStack(t);
if (!stack) {
  t.comment('skipped: needs the fake kubelet');
  process.exit(0);
}
const { kube, call } = stack;
const driver = kube.driver;
const kubelet = kube.kubelet!;

const finished = (id: string, timeoutMs?: number) => stack.finished(id, timeoutMs);

t.test('a cluster registered with the chart api-reader token: one-time, continuous and live view', async (t) => {
  const home = await kube.namespace('logging');
  const { access, serviceAccount } = await apiReaderServiceAccount(t, driver.api, home);
  const cluster = `${stack.cluster}-sa`;
  const reg = await call('POST', '/clusters/configs', {
    id: cluster,
    name: 'registered with the chart api-reader account',
    api: { server: access.url, ca_data: Buffer.from(access.caPem).toString('base64'), token: access.token },
  });
  t.equal(reg.status, 201, JSON.stringify(reg.body));

  const ns = await kube.namespace('rbac');
  await driver.addPod({
    namespace: ns,
    name: 'web-0',
    nodeName: kube.node,
    labels: { app: 'web' },
    logs: { main: ['one', 'two'] },
  });

  const once = await call('POST', '/collect', { cluster, namespace: ns, label_selector: 'app=web' });
  t.equal(once.status, 202, JSON.stringify(once.body));
  const job = await finished(once.body['job_id']);
  t.equal(job.status, 'succeeded', JSON.stringify(job));
  t.equal(job.result.lines, 2);
  t.equal(job.result.pods_failed, 0);

  const follow = await call('POST', '/collect/continuous', { cluster, namespace: ns, label_selector: 'app=web' });
  t.equal(follow.status, 202, JSON.stringify(follow.body));
  const id = follow.body['job_id'];
  await waitFor(() => kubelet.followers(ns, 'web-0') === 1, { what: 'web-0 followed', timeoutMs: 20_000 });
  await driver.addPod({
    namespace: ns,
    name: 'web-1',
    nodeName: kube.node,
    labels: { app: 'web' },
    logs: { main: ['three'] },
  });
  await waitFor(() => kubelet.followers(ns, 'web-1') === 1, {
    what: 'web-1 followed (the watch works with these rights)',
    timeoutMs: 20_000,
  });
  driver.appendLog(ns, 'web-0', 'main', 'four');
  const stored = await waitForValue(
    () => stack.stored(ns),
    (s) => s.length >= 4,
    { what: 'four lines stored', timeoutMs: 20_000, intervalMs: 100 },
  );
  t.same(stored.map((r) => `${r.pod}:${r.message}`).sort(), ['web-0:four', 'web-0:one', 'web-0:two', 'web-1:three']);

  const pods = await waitForValue(
    () => call('GET', `/pods?cluster=${cluster}&namespace=${ns}`),
    (r) => r.status === 200 && r.body['live_clusters'].some((c: { connected: boolean }) => c.connected),
    { what: 'the live view connected with these rights', timeoutMs: 20_000, intervalMs: 200 },
  );
  t.same(
    pods.body['pods']
      .filter((p: { live: boolean }) => p.live)
      .map((p: { name: string }) => p.name)
      .sort(),
    ['web-0', 'web-1'],
  );

  // Exactly these rights: reading pods, namespaces and logs, nothing more.
  const sa = serviceAccount;
  const can = (attrs: Parameters<typeof serviceAccountCan>[2]) => serviceAccountCan(driver.api, sa, attrs);
  t.ok(await can({ verb: 'get', resource: 'pods', subresource: 'log', namespace: ns }), 'get pods/log');
  t.ok(await can({ verb: 'watch', resource: 'pods' }), 'watch pods');
  t.ok(await can({ verb: 'get', resource: 'namespaces' }), 'get namespaces');
  t.notOk(await can({ verb: 'get', resource: 'secrets', namespace: ns }), 'no secrets');
  t.notOk(await can({ verb: 'delete', resource: 'pods', namespace: ns }), 'no writes');
  t.notOk(await can({ verb: 'create', resource: 'pods', subresource: 'exec', namespace: ns }), 'no exec');

  await call('DELETE', `/collect/jobs?id=${id}`);
  t.equal((await finished(id)).status, 'cancelled');
});
