// node dev/kube/cli.ts build            build etcd + kube-apiserver into the cache (if missing), print their paths
// node dev/kube/cli.ts start [DIR]      run a control plane and a fake kubelet with one node until Ctrl-C;
//                                        prints the admin kubeconfig path (DIR default: a temp dir)

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane } from './control-plane.ts';
import { startFakeKubelet } from './fake-kubelet.ts';
import { ensureKubeBinaries } from './kube-binaries.ts';
import { KubeDriver } from './kube-driver.ts';
import { readFile } from 'node:fs/promises';

const log = (m: string) => process.stderr.write(`[kube] ${m}\n`);
const [command, dirArg] = process.argv.slice(2);

if (command === 'build') {
  const started = Date.now();
  const bins = await ensureKubeBinaries(log);
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.stdout.write(`${bins.etcd}\n${bins.kubeApiServer}\n`);
} else if (command === 'start') {
  const dir = dirArg ?? (await mkdtemp(join(tmpdir(), 'k8s-logs-kube-')));
  const started = Date.now();
  const cp = await startControlPlane({ dataDir: dir, log });
  const kubelet = await startFakeKubelet({
    cert: await readFile(cp.pki.kubeletServingCert, 'utf8'),
    key: await readFile(cp.pki.kubeletServingKey, 'utf8'),
    caPem: cp.pki.caPem,
  });
  const driver = new KubeDriver(cp.apiServer, kubelet);
  await driver.addNode('node-1');
  log(`up in ${Date.now() - started} ms; node-1's kubelet on 127.0.0.1:${kubelet.port}`);
  process.stdout.write(`KUBECONFIG=${cp.adminKubeconfigPath}\n`);
  const stop = async () => {
    await driver.close();
    await kubelet.stop();
    await cp.stop();
    if (!dirArg) await rm(dir, { recursive: true, force: true });
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
} else {
  process.stderr.write('usage: node dev/kube/cli.ts build | start [DIR]\n');
  process.exit(2);
}
