/**
 * How test/run.ts tells test files where the run's Kubernetes control plane is (a module of
 * its own so the runner does not load @kubernetes/client-node): the admin kubeconfig, and
 * the control plane's data directory when it is ours (pki/, etcd-url), see kube.ts.
 */
export const KUBE_ENV = { kubeconfig: 'K8S_LOGS_TEST_KUBECONFIG', dir: 'K8S_LOGS_TEST_KUBE_DIR' } as const;
