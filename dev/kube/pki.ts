// Certificates and credentials for a loopback control plane, made with the `openssl` CLI
// (Node can read X.509 but not issue it): one CA signs the API server's serving cert, the
// client cert the API server presents to kubelets, and the fake kubelet's serving cert;
// an EC key pair signs service-account tokens; a random admin bearer token in the
// `system:masters` group goes into the API server's static token file.
//
// EC P-256 keys: generated in milliseconds, accepted everywhere in Kubernetes.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../go-tool.ts';

export interface ControlPlanePki {
  dir: string;
  caCert: string;
  caKey: string;
  apiServerCert: string;
  apiServerKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  /** What kube-apiserver presents to kubelets (CN kube-apiserver-kubelet-client). */
  kubeletClientCert: string;
  kubeletClientKey: string;
  /** The fake kubelet's serving cert (IP SAN 127.0.0.1). */
  kubeletServingCert: string;
  kubeletServingKey: string;
  /** `--token-auth-file`: the admin token, group system:masters. */
  tokenFile: string;
  adminToken: string;
  /** PEM of the CA, for clients. */
  caPem: string;
}

/** The CN the API server's kubelet client cert carries; the fake kubelet requires it. */
export const KUBELET_CLIENT_CN = 'kube-apiserver-kubelet-client';

/** Names the API server answers to, in-cluster included (a chart's pods use kubernetes.default.svc). */
const API_SERVER_SANS = [
  'IP:127.0.0.1',
  'IP:10.96.0.1',
  'DNS:localhost',
  'DNS:kubernetes',
  'DNS:kubernetes.default',
  'DNS:kubernetes.default.svc',
  'DNS:kubernetes.default.svc.cluster.local',
];

const DAYS = '30';

function pkiPaths(dir: string, adminToken: string): ControlPlanePki {
  const f = (name: string) => join(dir, name);
  return {
    dir,
    caCert: f('ca.crt'),
    caKey: f('ca.key'),
    apiServerCert: f('apiserver.crt'),
    apiServerKey: f('apiserver.key'),
    serviceAccountKey: f('sa.key'),
    serviceAccountPub: f('sa.pub'),
    kubeletClientCert: f('apiserver-kubelet-client.crt'),
    kubeletClientKey: f('apiserver-kubelet-client.key'),
    kubeletServingCert: f('kubelet.crt'),
    kubeletServingKey: f('kubelet.key'),
    tokenFile: f('tokens.csv'),
    adminToken,
    caPem: '',
  };
}

/** The PKI createPki() wrote into `dir` (another process's control plane, say). */
export async function readPki(dir: string): Promise<ControlPlanePki> {
  const tokens = await readFile(join(dir, 'tokens.csv'), 'utf8');
  const pki = pkiPaths(dir, tokens.split(',')[0] ?? '');
  pki.caPem = await readFile(pki.caCert, 'utf8');
  return pki;
}

/** Writes a fresh PKI into `dir` (created if missing). */
export async function createPki(dir: string): Promise<ControlPlanePki> {
  await mkdir(dir, { recursive: true });
  const pki = pkiPaths(dir, randomBytes(24).toString('hex'));
  await openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    pki.caKey,
    '-out',
    pki.caCert,
    '-days',
    DAYS,
    '-subj',
    '/CN=k8s-logs-test-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  await Promise.all([
    issue(pki, pki.apiServerCert, pki.apiServerKey, '/CN=kube-apiserver', 'serverAuth', API_SERVER_SANS),
    issue(
      pki,
      pki.kubeletClientCert,
      pki.kubeletClientKey,
      `/O=system:masters/CN=${KUBELET_CLIENT_CN}`,
      'clientAuth',
      [],
    ),
    issue(pki, pki.kubeletServingCert, pki.kubeletServingKey, '/CN=fake-kubelet', 'serverAuth', [
      'IP:127.0.0.1',
      'DNS:localhost',
    ]),
    (async () => {
      await openssl(dir, [
        'genpkey',
        '-algorithm',
        'EC',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-out',
        pki.serviceAccountKey,
      ]);
      await openssl(dir, ['pkey', '-in', pki.serviceAccountKey, '-pubout', '-out', pki.serviceAccountPub]);
    })(),
    writeFile(pki.tokenFile, `${pki.adminToken},k8s-logs-admin,k8s-logs-admin,"system:masters"\n`, { mode: 0o600 }),
  ]);
  pki.caPem = await readFile(pki.caCert, 'utf8');
  return pki;
}

/**
 * A client certificate for `user` (CN) in `groups` (O), as kube-apiserver authenticates
 * it: signed by the control plane's CA, or self-signed (`signer: 'self'`, which the API
 * server refuses). Files go to `dir`; the PEMs are returned.
 */
export async function issueClientCertificate(
  pki: ControlPlanePki,
  dir: string,
  user: string,
  opts: { groups?: readonly string[]; signer?: 'ca' | 'self' } = {},
): Promise<{ certPem: string; keyPem: string }> {
  const base = join(dir, `client-${user.replace(/[^A-Za-z0-9-]/g, '_')}-${randomBytes(4).toString('hex')}`);
  const subject = `${(opts.groups ?? []).map((g) => `/O=${g}`).join('')}/CN=${user}`;
  await issue(pki, `${base}.crt`, `${base}.key`, subject, 'clientAuth', [], opts.signer !== 'self');
  return { certPem: await readFile(`${base}.crt`, 'utf8'), keyPem: await readFile(`${base}.key`, 'utf8') };
}

async function issue(
  pki: ControlPlanePki,
  cert: string,
  key: string,
  subject: string,
  usage: string,
  sans: string[],
  /** false: self-signed (a certificate the control plane's CA did not issue). */
  caSigned = true,
): Promise<void> {
  const ext = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${usage}`,
    ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
  ];
  // OpenSSL 3: `req -x509 -CA` issues a CA-signed certificate in one step.
  await openssl(pki.dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    DAYS,
    '-subj',
    subject,
    ...(caSigned ? ['-CA', pki.caCert, '-CAkey', pki.caKey] : []),
    ...ext.flatMap((e) => ['-addext', e]),
  ]);
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  await runCommand('openssl', args, process.env, cwd, 'control plane certificates (openssl)');
}
