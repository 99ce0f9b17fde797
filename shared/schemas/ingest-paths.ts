/**
 * The agent ↔ aggregator internal endpoints. Kept free of runtime dependencies (no TypeBox)
 * so the node agent can import the contract's constants without loading the schema library;
 * re-exported by ingest.ts and collection-config.ts, where they are documented.
 */
export const INGEST_PATH = '/v1/ingest';
export const INGEST_HEARTBEAT_PATH = '/v1/ingest/heartbeat';
export const INGEST_CONFIG_PATH = '/v1/ingest/config';
