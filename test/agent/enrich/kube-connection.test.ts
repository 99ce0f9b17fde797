import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  inClusterConnection,
  kubeconfigConnection,
  parseKubeconfig,
  resolveConnection,
  tokenFileAuth,
} from '../../../agent/enrich/kube-connection.ts';
import { tempDir } from '../helpers.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function doc(cluster: Record<string, unknown>, user: Record<string, unknown>): unknown {
  return {
    'current-context': 'dev',
    contexts: [
      { name: 'other', context: { cluster: 'nope', user: 'nope' } },
      { name: 'dev', context: { cluster: 'c', user: 'u' } },
    ],
    clusters: [{ name: 'c', cluster }],
    users: [{ name: 'u', user }],
  };
}

t.test('kubeconfig: current-context cluster and user become a connection', async (t) => {
  const files: Record<string, string> = {
    '/cfg/ca.pem': 'CA-FILE',
    '/abs/tok': ' tok-from-file \n',
    '/cfg/c.crt': 'CERT',
    '/cfg/c.key': 'KEY',
  };
  const read = (p: string): string => {
    const v = files[p];
    if (v === undefined) throw new Error(`ENOENT ${p}`);
    return v;
  };
  const cases: {
    name: string;
    cluster: Record<string, unknown>;
    user: Record<string, unknown>;
    want: Record<string, unknown>;
    auth: string | undefined;
  }[] = [
    {
      name: 'bearer token, inline CA',
      cluster: { server: 'https://k:6443', 'certificate-authority-data': b64('CA-DATA') },
      user: { token: 'abc' },
      want: { server: 'https://k:6443', ca: 'CA-DATA', insecureSkipTlsVerify: false },
      auth: 'Bearer abc',
    },
    {
      name: 'token file, CA file relative to the kubeconfig, skip verify, SNI',
      cluster: {
        server: 'https://k',
        'certificate-authority': 'ca.pem',
        'insecure-skip-tls-verify': true,
        'tls-server-name': 'api',
      },
      user: { tokenFile: '/abs/tok' },
      want: { ca: 'CA-FILE', insecureSkipTlsVerify: true, tlsServerName: 'api' },
      auth: 'Bearer tok-from-file',
    },
    {
      name: 'client certificate from data',
      cluster: { server: 'https://k' },
      user: { 'client-certificate-data': b64('CERT-D'), 'client-key-data': b64('KEY-D') },
      want: { cert: 'CERT-D', key: 'KEY-D' },
      auth: undefined,
    },
    {
      name: 'client certificate from files',
      cluster: { server: 'https://k' },
      user: { 'client-certificate': 'c.crt', 'client-key': '/cfg/c.key' },
      want: { cert: 'CERT', key: 'KEY' },
      auth: undefined,
    },
    {
      name: 'basic auth',
      cluster: { server: 'http://k' },
      user: { username: 'admin', password: 'pw' },
      want: { server: 'http://k' },
      auth: `Basic ${b64('admin:pw')}`,
    },
  ];
  for (const c of cases) {
    const conn = kubeconfigConnection(doc(c.cluster, c.user), '/cfg/kubeconfig', read);
    t.match(conn, c.want, c.name);
    t.equal(conn.authorization(), c.auth, `${c.name}: authorization`);
  }
  t.throws(
    () => kubeconfigConnection(doc({ server: 'https://k' }, { exec: { command: 'x' } }), '/cfg/k', read),
    /exec/,
  );
  t.throws(
    () => kubeconfigConnection({ ...(doc({}, {}) as object), 'current-context': 'missing' }, '/cfg/k', read),
    /context "missing" not found/,
  );
  t.throws(() => kubeconfigConnection(doc({}, {}), '/cfg/k', read), /no server/);
});

t.test('kubeconfig text: YAML and JSON', async (t) => {
  const yaml =
    'current-context: dev\ncontexts:\n- name: dev\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster:\n    server: https://k:1\nusers:\n- name: u\n  user:\n    token: y\n';
  const fromYaml = kubeconfigConnection(await parseKubeconfig(yaml), '/k');
  t.equal(fromYaml.server, 'https://k:1');
  t.equal(fromYaml.authorization(), 'Bearer y');
  const fromJson = kubeconfigConnection(
    await parseKubeconfig(JSON.stringify(doc({ server: 'https://j' }, { token: 'j' }))),
    '/k',
  );
  t.equal(fromJson.authorization(), 'Bearer j');
});

t.test('in-cluster config from the service env and the mounted secret; token re-read after rotation', async (t) => {
  const dir = await tempDir(t, 'kube-sa-');
  await writeFile(join(dir, 'token'), 'first\n');
  await writeFile(join(dir, 'ca.crt'), 'PEM-CA');
  t.equal(inClusterConnection({}, dir), null, 'not in a cluster without KUBERNETES_SERVICE_HOST');
  t.equal(await resolveConnection('auto', {}), null, 'auto outside a cluster is off');
  t.equal(await resolveConnection('off', { KUBERNETES_SERVICE_HOST: '10.0.0.1' }), null);

  const conn = inClusterConnection(
    { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '6443' },
    dir,
    undefined,
    0,
  );
  t.match(conn, { server: 'https://10.0.0.1:6443', ca: 'PEM-CA', insecureSkipTlsVerify: false });
  t.equal(conn?.authorization(), 'Bearer first');
  await writeFile(join(dir, 'token'), 'rotated\n');
  t.equal(conn?.authorization(), 'Bearer rotated', 'rotated token picked up');

  const v6 = inClusterConnection({ KUBERNETES_SERVICE_HOST: 'fd00::1' }, dir);
  t.equal(v6?.server, 'https://[fd00::1]:443', 'IPv6 host bracketed, default port');
});

t.test('token file: re-read at most every refresh interval, last token kept when a read fails', async (t) => {
  let now = 0;
  let content: string | null = 'a';
  let reads = 0;
  const auth = tokenFileAuth(
    '/tok',
    () => {
      reads++;
      if (content === null) throw new Error('gone');
      return content;
    },
    1000,
    () => now,
  );
  content = 'b';
  t.equal(auth(), 'Bearer a', 'not re-read within the interval');
  now = 1000;
  t.equal(auth(), 'Bearer b');
  content = null;
  now = 2000;
  t.equal(auth(), 'Bearer b', 'failed re-read keeps the last token');
  t.equal(reads, 3);
});
