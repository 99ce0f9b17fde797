/**
 * Names of the service plugins, for `fastify-plugin`'s `name` and `dependencies`: a plugin
 * registered without one it depends on fails at boot, naming it.
 */
export const PluginNames = {
  opensearch: 'k8s-logs-opensearch',
  metrics: 'k8s-logs-metrics',
  repositories: 'k8s-logs-repositories',
  storeLifecycle: 'k8s-logs-store-lifecycle',
  bulkWriter: 'k8s-logs-bulk-writer',
  search: 'k8s-logs-search',
  clusters: 'k8s-logs-clusters',
  jobs: 'k8s-logs-jobs',
  httpHooks: 'k8s-logs-http-hooks',
  docs: 'k8s-logs-docs',
  auth: 'k8s-logs-auth',
  errorHandler: 'k8s-logs-error-handler',
  peerTail: 'k8s-logs-peer-tail',
  unusedConnections: 'k8s-logs-unused-connections',
  healthComponents: 'k8s-logs-health-components',
} as const;
