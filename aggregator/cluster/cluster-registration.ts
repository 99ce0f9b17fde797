/**
 * A registered cluster (issue 8 §3) as stored in the `clusters` system index, and what the
 * API shows of it. Pure.
 *
 * The non-secret connection settings (server URL, CA, TLS verification, which kind of
 * credential) are plain; the secrets (bearer token, client key and certificate) are one
 * sealed blob (credential-cipher.ts) that no response and no log line ever contains:
 * `publicView` is the only way a registration leaves the aggregator.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { Type, type Static } from 'typebox';
import { SealedSchema } from './credential-cipher.ts';

export const CredentialKinds = ['none', 'token', 'client_certificate'] as const;
export type CredentialKind = (typeof CredentialKinds)[number];

const StoredApiSchema = Type.Object({
  server: Type.String(),
  /** PEM of the CA bundle, base64 (as kubeconfig `certificate-authority-data`); null = system CAs. */
  ca_data: Type.Union([Type.String(), Type.Null()]),
  insecure_skip_tls_verify: Type.Boolean(),
  auth: Type.Union([Type.Literal('none'), Type.Literal('token'), Type.Literal('client_certificate')]),
});

export const ClusterDocSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  labels: Type.Record(Type.String(), Type.String()),
  api: Type.Union([StoredApiSchema, Type.Null()]),
  credentials: Type.Union([SealedSchema, Type.Null()]),
  created_at: Type.String(),
  updated_at: Type.String(),
});
export type ClusterDoc = Static<typeof ClusterDocSchema>;

/** The decrypted secrets of a connection. */
export interface ClusterSecrets {
  token?: string;
  client_certificate_data?: string;
  client_key_data?: string;
}

/** What GETs show: everything but the secrets, and whether a CA is set rather than the CA. */
export function publicView(doc: ClusterDoc, version: string) {
  return {
    id: doc.id,
    name: doc.name,
    labels: doc.labels,
    api: doc.api && {
      server: doc.api.server,
      ca_configured: doc.api.ca_data !== null,
      insecure_skip_tls_verify: doc.api.insecure_skip_tls_verify,
      auth: doc.api.auth,
    },
    created_at: doc.created_at,
    updated_at: doc.updated_at,
    version,
  };
}

export function credentialKind(s: ClusterSecrets): CredentialKind {
  if (s.token) return 'token';
  if (s.client_certificate_data && s.client_key_data) return 'client_certificate';
  return 'none';
}

/** A KubeConfig for the registered connection (holds the secrets: never log or export it). */
export function kubeConfigFor(id: string, api: NonNullable<ClusterDoc['api']>, secrets: ClusterSecrets): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(
    {
      name: id,
      server: api.server,
      skipTLSVerify: api.insecure_skip_tls_verify,
      ...(api.ca_data ? { caData: api.ca_data } : {}),
    },
    {
      name: `${id}-user`,
      ...(secrets.token ? { token: secrets.token } : {}),
      ...(secrets.client_certificate_data ? { certData: secrets.client_certificate_data } : {}),
      ...(secrets.client_key_data ? { keyData: secrets.client_key_data } : {}),
    },
  );
  return kc;
}
