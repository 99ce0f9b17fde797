/**
 * The default collection config, free of runtime dependencies (no TypeBox) so the node agent
 * can use it without loading the schema library; re-exported by collection-config.ts.
 */
import type { CollectionConfig } from './collection-config.ts';

/** What a cluster collects before anyone configured it: everything, multiline on. */
export const DEFAULT_COLLECTION_CONFIG: CollectionConfig = Object.freeze({
  enabled: true,
  include_namespaces: [],
  exclude_namespaces: [],
  include_pods: [],
  exclude_pods: [],
  include_containers: [],
  exclude_containers: [],
  min_level: 'trace',
  rate_limit_lines_per_second: 0,
  multiline: true,
  namespace_overrides: {},
}) as CollectionConfig;
