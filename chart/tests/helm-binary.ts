// The real `helm` for the chart tests, built from the Go module proxy with `go install` and
// cached in ~/.cache/k8s-logs/helm (dev/go-tool.ts): about 3½ minutes on 2 cores the first
// time (module downloads included), instant afterwards.
//
// Why not a package: helm publishes no npm or PyPI package of its own (the ones that exist
// download a release tarball from get.helm.sh at install time, which this environment
// cannot reach), while `go install helm.sh/helm/v3/cmd/helm@<version>` is the official
// source built by the same toolchain as the release.
//
//   node chart/tests/helm-binary.ts     install if missing, print the binary's path

import { ensureGoTool, goToolBinaryPath, type GoTool, type Log } from '../../dev/go-tool.ts';

/** Helm release built; bump HELM_VERSION and HELM_KUBE_MINOR together. */
export const HELM_VERSION = 'v3.22.0';
/**
 * Kubernetes minor version helm reports as `.Capabilities.KubeVersion` in `helm template`
 * and lints deprecations against. Helm's Makefile stamps it from the client-go it is built
 * with (k8s.io/client-go v0.37 in helm v3.22.0's go.mod → 1.37); `go install` alone would
 * leave the source default v1.20.
 */
const HELM_KUBE_MINOR = '37';

const HELM_TOOL: GoTool = {
  cacheName: 'helm',
  module: 'helm.sh/helm/v3/cmd/helm',
  version: HELM_VERSION,
  binary: 'helm',
  label: `helm ${HELM_VERSION}`,
  expectedDuration: 'about 3.5 minutes on 2 cores with cold Go caches',
  linkerVars: {
    'helm.sh/helm/v3/internal/version.version': HELM_VERSION,
    'helm.sh/helm/v3/internal/version.gitTreeState': 'clean',
    'helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor': '1',
    'helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor': HELM_KUBE_MINOR,
    'helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor': '1',
    'helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor': HELM_KUBE_MINOR,
  },
};

export function helmBinaryPath(): string {
  return goToolBinaryPath(HELM_TOOL);
}

/** Path of the cached helm, building it first when missing. Idempotent and concurrency-safe. */
export function ensureHelm(log?: Log): Promise<string> {
  return ensureGoTool(HELM_TOOL, log);
}

if (import.meta.main) {
  const binary = await ensureHelm((m) => process.stderr.write(`[helm] ${m}\n`));
  process.stdout.write(`${binary}\n`);
}
