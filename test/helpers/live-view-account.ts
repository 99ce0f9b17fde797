/**
 * A ServiceAccount allowed what the aggregator's live view of a registered cluster needs
 * (get/list/watch pods and namespaces) and nothing more, created through the real API; its
 * token is what an operator registers with `POST /clusters/configs`.
 */
import { serviceAccountToken, uniqueKubeName, type KubeApiClient } from './kube.ts';

export async function liveViewServiceAccount(api: KubeApiClient, namespace: string): Promise<string> {
  const name = uniqueKubeName('live-view');
  await api.create(`/api/v1/namespaces/${namespace}/serviceaccounts`, { metadata: { name } });
  await api.create('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    metadata: { name },
    rules: [{ apiGroups: [''], resources: ['pods', 'namespaces'], verbs: ['get', 'list', 'watch'] }],
  });
  await api.create('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace }],
  });
  return serviceAccountToken(api, namespace, name);
}
