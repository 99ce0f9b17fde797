// etcd and kube-apiserver built from the Go module proxy into the per-user cache, once, for
// the tests' real control plane (dev/kube/control-plane.ts).
//
// Why not `go install module@version` (dev/go-tool.ts): both modules carry `replace`
// directives, which `go install` refuses. Each is built from a throwaway main module
// instead (GOFLAGS=-mod=mod resolves its requirements):
// - etcd: `require go.etcd.io/etcd/server/v3`; that package is etcd's main. Its replaced
//   siblings are all published at the same version, so no replace is needed.
// - kube-apiserver: `require k8s.io/kubernetes` plus `replace k8s.io/X => k8s.io/X v0.N.M`
//   for every staging module k8s.io/kubernetes requires at v0.0.0 (read from its go.mod).
//   The version is stamped with -ldflags: an unstamped build reports
//   `v0.0.0-master+$Format:%H$`, which fails Helm's `kubeVersion` checks.
//
// Cache layout: `$XDG_CACHE_HOME/k8s-logs/kube/<binary>-<version>/<binary>` (default
// `~/.cache/k8s-logs/...`). The Go module and build caches (GOMODCACHE, GOCACHE) make a
// rebuild after a version bump take seconds to minutes instead of ~10 minutes.
//
// Concurrency: safe to call from several processes at once; each build writes to its own
// temporary directory and the binary is moved into place with an atomic rename.

import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findGo, goToolInstallDir, isExecutableFile, runCommand, type GoTool, type Log } from '../go-tool.ts';

/** Bump together with the README and dev/kube/README.md. */
export const ETCD_VERSION = 'v3.7.3';
export const KUBERNETES_VERSION = 'v1.37.2';

export interface KubeBinaries {
  etcd: string;
  kubeApiServer: string;
}

const ETCD_TOOL: GoTool = {
  cacheName: 'kube',
  module: 'go.etcd.io/etcd/server/v3',
  version: ETCD_VERSION,
  binary: 'etcd',
};
const APISERVER_TOOL: GoTool = {
  cacheName: 'kube',
  module: 'k8s.io/kubernetes/cmd/kube-apiserver',
  version: KUBERNETES_VERSION,
  binary: 'kube-apiserver',
};

/** Where the binaries are (or will be) cached. */
export function kubeBinaryPaths(): KubeBinaries {
  return {
    etcd: join(goToolInstallDir(ETCD_TOOL), ETCD_TOOL.binary),
    kubeApiServer: join(goToolInstallDir(APISERVER_TOOL), APISERVER_TOOL.binary),
  };
}

/**
 * Returns the cached binaries, building the missing ones first (cold: ~10 minutes on two
 * cores, ~3 GB peak RSS, ~1 GB module cache and ~3 GB build cache; warm Go caches: ~30 s).
 * Needs `go` on PATH (or at /usr/local/go/bin) and the module proxy (GOPROXY).
 */
export async function ensureKubeBinaries(log: Log = () => {}): Promise<KubeBinaries> {
  const paths = kubeBinaryPaths();
  // Sequential on purpose: each build already uses every core.
  await ensureBuilt(ETCD_TOOL, paths.etcd, log, async (go, dir) => {
    await writeFile(
      join(dir, 'go.mod'),
      mainModule('k8slogs.local/etcd-build', [`require ${ETCD_TOOL.module} ${ETCD_VERSION}`]),
    );
    return { go, pkg: ETCD_TOOL.module, ldflags: '-s -w' };
  });
  await ensureBuilt(APISERVER_TOOL, paths.kubeApiServer, log, async (go, dir) => {
    const env = goEnv(dir);
    const info = JSON.parse(
      await runCommand(
        go,
        ['mod', 'download', '-json', `k8s.io/kubernetes@${KUBERNETES_VERSION}`],
        env,
        dir,
        'kube-apiserver',
      ),
    ) as { GoMod?: string };
    if (!info.GoMod) throw new Error('go mod download k8s.io/kubernetes: no GoMod in its answer');
    const replaces = stagingReplaces(await readFile(info.GoMod, 'utf8'), stagingVersion(KUBERNETES_VERSION));
    await writeFile(
      join(dir, 'go.mod'),
      mainModule('k8slogs.local/kube-apiserver-build', [
        `require k8s.io/kubernetes ${KUBERNETES_VERSION}`,
        ...replaces,
      ]),
    );
    return { go, pkg: APISERVER_TOOL.module, ldflags: ['-s -w', ...versionStamp(KUBERNETES_VERSION)].join(' ') };
  });
  return paths;
}

/**
 * `replace` lines for the staging modules k8s.io/kubernetes requires at v0.0.0 (its own go.mod
 * replaces them with ./staging/src/…, which a dependency's replaces cannot do). Modules only
 * named in its replace block (sample-controller, …) are not required and not published.
 */
export function stagingReplaces(kubernetesGoMod: string, version: string): string[] {
  const requireBlock = /^require \(\n([\s\S]*?)^\)/gm;
  const out = new Set<string>();
  for (const block of kubernetesGoMod.matchAll(requireBlock)) {
    for (const m of (block[1] ?? '').matchAll(/^\s+(k8s\.io\/[\w.-]+) v0\.0\.0[ \t]*$/gm))
      out.add(`replace ${m[1]} => ${m[1]} ${version}`);
  }
  if (out.size === 0) throw new Error('k8s.io/kubernetes go.mod: no staging module required at v0.0.0');
  return [...out].sort();
}

/** v1.37.2 → v0.37.2, the version the staging modules are published at. */
export function stagingVersion(kubernetesVersion: string): string {
  const m = /^v1\.(\d+)\.(\d+)$/.exec(kubernetesVersion);
  if (!m) throw new Error(`not a Kubernetes release version: ${kubernetesVersion}`);
  return `v0.${m[1]}.${m[2]}`;
}

/** What `make` would stamp: /version reports a real version (Helm's kubeVersion checks read it). */
export function versionStamp(kubernetesVersion: string): string[] {
  const [major, minor] = kubernetesVersion.slice(1).split('.');
  const pkg = 'k8s.io/component-base/version';
  return [
    `-X ${pkg}.gitVersion=${kubernetesVersion}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`,
  ];
}

function mainModule(name: string, lines: string[]): string {
  return [`module ${name}`, '', 'go 1.25', '', ...lines, ''].join('\n');
}

function goEnv(dir: string): NodeJS.ProcessEnv {
  const flags = [process.env.GOFLAGS ?? '', '-mod=mod'].filter(Boolean).join(' ');
  return {
    ...process.env,
    GOFLAGS: flags,
    CGO_ENABLED: '0',
    GOTOOLCHAIN: process.env.GOTOOLCHAIN || 'auto',
    // The throwaway module has no VCS; keep `go` from looking for one above it.
    GOWORK: 'off',
    PWD: dir,
  };
}

type Prepare = (go: string, dir: string) => Promise<{ go: string; pkg: string; ldflags: string }>;

async function ensureBuilt(tool: GoTool, binary: string, log: Log, prepare: Prepare): Promise<void> {
  if (await isExecutableFile(binary)) return;
  const installDir = goToolInstallDir(tool);
  await mkdir(installDir, { recursive: true });
  const dir = await mkdtemp(join(installDir, '.build-'));
  const started = Date.now();
  log(
    `building ${tool.binary} ${tool.version} from the Go module proxy (first time only; kube-apiserver takes ~10 minutes on 2 cores)`,
  );
  try {
    const { go, pkg, ldflags } = await prepare(await findGo(), dir);
    const out = join(dir, tool.binary);
    await runCommand(go, ['build', '-trimpath', `-ldflags=${ldflags}`, '-o', out, pkg], goEnv(dir), dir, tool.binary);
    await chmod(out, 0o755);
    await rename(out, binary);
    log(`built ${tool.binary} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${binary}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
