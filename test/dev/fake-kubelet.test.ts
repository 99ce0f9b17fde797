// The fake kubelet as the real kube-apiserver reaches it: every read goes through
// `GET /api/v1/namespaces/{ns}/pods/{pod}/log`, which the API server validates and proxies
// to the node's InternalIP:kubeletEndpoint over mutual TLS.
import t from 'tap';
import { testKube } from '../helpers/kube.ts';
import { waitForValue } from '../helpers/wait-for.ts';

const kube = await testKube(t, { kubelet: true });
if (!kube) {
  t.pass('skipped: the fake kubelet needs a control plane of our own');
} else {
  const { driver, kubelet } = kube;
  if (!kubelet) throw new Error('no kubelet');
  const ns = await kube.namespace('kubelet');
  const web = await driver.addPod({
    namespace: ns,
    name: 'web',
    nodeName: kube.node,
    containers: ['app', 'sidecar'],
    initContainers: ['migrate'],
    logs: { migrate: ['migrated'] },
  });
  const at = (s: number) => new Date(Date.UTC(2026, 0, 2, 3, 4, s, 500));
  for (let i = 1; i <= 5; i++) driver.appendLog(ns, 'web', 'app', `line ${i}`, at(i * 10));
  driver.appendLog(ns, 'web', 'sidecar', 'sidecar says hi', at(1));

  t.test(
    'the API server proxies to the kubelet with its client certificate; node and pod are real objects',
    async (t) => {
      const log = await driver.podLog(ns, 'web', { container: 'app' });
      t.equal(log.status, 200);
      t.equal(log.text, 'line 1\nline 2\nline 3\nline 4\nline 5\n');
      const last = kubelet.requests.at(-1);
      t.equal(last?.path, `/containerLogs/${ns}/web/app`);
      t.equal(
        last?.clientCn,
        'kube-apiserver-kubelet-client',
        'mutual TLS: the API server presented its kubelet client cert',
      );
      t.equal(web.status.phase, 'Running');
      t.match(web.status.initContainerStatuses, [{ name: 'migrate', state: { terminated: { reason: 'Completed' } } }]);
      t.match(web.status.containerStatuses?.[0]?.containerID, /^containerd:\/\/[0-9a-f]{64}$/);
    },
  );

  t.test('read options: timestamps, tailLines before sinceTime, sinceSeconds, limitBytes', async (t) => {
    const ts = await driver.podLog(ns, 'web', { container: 'app', timestamps: true, tailLines: 2 });
    t.equal(ts.text, '2026-01-02T03:04:40.500000000Z line 4\n2026-01-02T03:04:50.500000000Z line 5\n');
    // sinceTime: the API server passes whole seconds on; lines at or after it.
    const since = await driver.podLog(ns, 'web', { container: 'app', sinceTime: '2026-01-02T03:04:30.900Z' });
    t.equal(since.text, 'line 3\nline 4\nline 5\n');
    t.equal(
      kubelet.requests.at(-1)?.query['sinceTime'],
      '2026-01-02T03:04:30Z',
      'the API server truncated sinceTime to seconds',
    );
    const tailThenSince = await driver.podLog(ns, 'web', {
      container: 'app',
      tailLines: 4,
      sinceTime: '2026-01-02T03:04:15Z',
    });
    t.equal(tailThenSince.text, 'line 2\nline 3\nline 4\nline 5\n', 'tail picks 4 lines, since keeps those after 15 s');
    driver.appendLog(ns, 'web', 'sidecar', 'just now');
    const recent = await driver.podLog(ns, 'web', { container: 'sidecar', sinceSeconds: 3600 });
    t.equal(recent.text, 'just now\n', 'sinceSeconds relative to now');
    const limited = await driver.podLog(ns, 'web', { container: 'app', limitBytes: 10 });
    t.equal(limited.text, 'line 1\nlin');
    const init = await driver.podLog(ns, 'web', { container: 'migrate' });
    t.equal(init.text, 'migrated\n', 'init container logs');
  });

  t.test('errors the API server decides, and the ones the kubelet sends', async (t) => {
    const noContainer = await driver.podLog(ns, 'web', {});
    t.equal(noContainer.status, 400, 'two containers: the container must be named');
    t.match(noContainer.text, /a container name must be specified/);
    const unknown = await driver.podLog(ns, 'web', { container: 'nope' });
    t.equal(unknown.status, 400);
    t.match(unknown.text, /container nope is not valid for pod web/);
    const noPrevious = await driver.podLog(ns, 'web', { container: 'app', previous: true });
    t.equal(noPrevious.status, 400, 'no previous instance: the kubelet says so, the API server relays it');
    t.match(noPrevious.text, /previous terminated container \\?"app\\?" in pod \\?"web\\?" not found/);
    const both = await driver.podLog(ns, 'web', {
      container: 'app',
      sinceSeconds: 1,
      sinceTime: '2026-01-02T03:04:30Z',
    });
    t.equal(both.status, 422, 'sinceSeconds and sinceTime together: refused by the API server');
  });

  t.test('restart: previous serves the terminated instance, the status counts it', async (t) => {
    const ns2 = await kube.namespace('restart');
    await driver.addPod({ namespace: ns2, name: 'crashy', nodeName: kube.node });
    driver.appendLog(ns2, 'crashy', 'main', 'first life');
    const pod = await driver.restartContainer(ns2, 'crashy', 'main', 137);
    driver.appendLog(ns2, 'crashy', 'main', 'second life');
    t.equal((await driver.podLog(ns2, 'crashy', { previous: true })).text, 'first life\n');
    t.equal((await driver.podLog(ns2, 'crashy')).text, 'second life\n');
    t.match(pod.status.containerStatuses?.[0], { restartCount: 1, lastState: { terminated: { exitCode: 137 } } });
  });

  t.test('follow streams new lines; restart, rotation and deletion end the stream', async (t) => {
    const ns3 = await kube.namespace('follow');
    await driver.addPod({ namespace: ns3, name: 'tail', nodeName: kube.node });
    driver.appendLog(ns3, 'tail', 'main', 'before');
    const follow = async () => {
      const res = await driver.api.stream(`/api/v1/namespaces/${ns3}/pods/tail/log?follow=true`);
      t.equal(res.status, 200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      const done = (async () => {
        for (;;) {
          const { value, done: end } = await reader.read();
          if (end) return text;
          text += Buffer.from(value).toString('utf8');
        }
      })();
      await waitForValue(
        () => kubelet.followers(ns3, 'tail'),
        (n) => n === 1,
        { what: 'the follow reached the kubelet' },
      );
      return { text: () => text, done };
    };
    const f1 = await follow();
    driver.appendLog(ns3, 'tail', 'main', 'live');
    await waitForValue(
      () => f1.text(),
      (s) => s === 'before\nlive\n',
      { what: 'live line streamed' },
    );
    kubelet.rotateLog(ns3, 'tail', 'main');
    t.equal(await f1.done, 'before\nlive\n', 'rotation cut the follow');
    driver.appendLog(ns3, 'tail', 'main', 'after rotation');
    t.equal((await driver.podLog(ns3, 'tail')).text, 'after rotation\n', 'the rotated-away lines are no longer served');

    const f2 = await follow();
    await driver.restartContainer(ns3, 'tail', 'main');
    t.equal(await f2.done, 'after rotation\n', 'restart ended the follow');
    const f3 = await follow();
    await driver.deletePod(ns3, 'tail');
    t.equal(await f3.done, '', 'deletion ended the follow');
  });

  t.test('faults on demand: kubelet error status, a cut stream, refused connections', async (t) => {
    kubelet.injectFault({
      match: { namespace: ns, pod: 'web' },
      fault: { kind: 'status', status: 500, message: 'runtime is down' },
    });
    const failed = await driver.podLog(ns, 'web', { container: 'app' });
    t.equal(failed.status, 500);
    t.match(failed.text, /runtime is down/);
    t.equal((await driver.podLog(ns, 'web', { container: 'app' })).status, 200, 'a one-shot fault');

    kubelet.injectFault({ match: { pod: 'web', container: 'app' }, fault: { kind: 'cut', afterBytes: 9 } });
    const cut = await driver.api.stream(`/api/v1/namespaces/${ns}/pods/web/log?container=app`);
    let got = '';
    let broke = false;
    try {
      for await (const chunk of cut.body as unknown as AsyncIterable<Uint8Array>)
        got += Buffer.from(chunk).toString('utf8');
    } catch {
      broke = true;
    }
    t.equal(got, 'line 1\nli', 'the cut came after 9 bytes');
    t.ok(broke || got.length === 9, 'the stream ended early');

    await kubelet.refuse(true);
    t.teardown(() => kubelet.refuse(false));
    const refused = await driver.podLog(ns, 'web', { container: 'app' });
    t.ok(refused.status >= 500, `kubelet down: the API server answers ${refused.status}`);
    await kubelet.refuse(false);
    t.equal((await driver.podLog(ns, 'web', { container: 'app' })).status, 200, 'back');
  });

  t.test('owners are real objects with the labels their controllers set', async (t) => {
    const ns4 = await kube.namespace('owners');
    const dep = await driver.addPod({
      namespace: ns4,
      nodeName: kube.node,
      owner: { kind: 'Deployment', name: 'api' },
    });
    const rsRef = dep.metadata.ownerReferences?.[0];
    t.equal(rsRef?.kind, 'ReplicaSet');
    const hash = dep.metadata.labels?.['pod-template-hash'];
    t.equal(rsRef?.name, `api-${hash}`);
    t.match(dep.metadata.name, new RegExp(`^api-${hash}-[a-z0-9]{5}$`));
    const rs = await driver.api.get<{ metadata: { ownerReferences: { kind: string; name: string }[] } }>(
      `/apis/apps/v1/namespaces/${ns4}/replicasets/${rsRef?.name}`,
    );
    t.match(rs.metadata.ownerReferences, [{ kind: 'Deployment', name: 'api' }]);
    const sts = await driver.addPod({
      namespace: ns4,
      nodeName: kube.node,
      owner: { kind: 'StatefulSet', name: 'db' },
    });
    t.equal(sts.metadata.name, 'db-0');
    const job = await driver.addPod({
      namespace: ns4,
      nodeName: kube.node,
      owner: { kind: 'Job', name: 'nightly' },
      phase: 'Succeeded',
    });
    t.equal(job.metadata.labels?.['batch.kubernetes.io/job-name'], 'nightly');
    t.equal(job.status.phase, 'Succeeded');
  });
}
