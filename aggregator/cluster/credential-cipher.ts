/**
 * Encryption at rest of registered clusters' API credentials: AES-256-GCM with the key the
 * operator provides (config `kube.credentialsKey`). Pure apart from the random IV.
 *
 * A sealed value is `{alg, key_id, iv, tag, data}` (base64): `key_id` is a digest of the key,
 * so a document sealed under another key is recognised as such (and reported) instead of
 * failing with an opaque authentication error. The plaintext is JSON of the secrets only.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { Type, type Static } from 'typebox';

export const SealedSchema = Type.Object({
  alg: Type.Literal('A256GCM'),
  key_id: Type.String(),
  iv: Type.String(),
  tag: Type.String(),
  data: Type.String(),
});
export type Sealed = Static<typeof SealedSchema>;

export class CredentialKeyError extends Error {
  override readonly name = 'CredentialKeyError';
}

export class CredentialCipher {
  readonly #key: Buffer;
  readonly keyId: string;

  /** `keyBase64`: 32 bytes, base64 (as config.ts stores it). */
  constructor(keyBase64: string) {
    this.#key = Buffer.from(keyBase64, 'base64');
    if (this.#key.length !== 32) throw new CredentialKeyError('credentials key must be 32 bytes');
    this.keyId = createHash('sha256')
      .update('k8s-logs-credentials\0')
      .update(this.#key)
      .digest('base64url')
      .slice(0, 12);
  }

  seal(value: unknown): Sealed {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return {
      alg: 'A256GCM',
      key_id: this.keyId,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
  }

  /** The sealed value; CredentialKeyError when sealed under another key or tampered with. */
  open(sealed: Sealed): unknown {
    if (sealed.key_id !== this.keyId)
      throw new CredentialKeyError(`credentials were encrypted with another key (key id ${sealed.key_id})`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(sealed.iv, 'base64'));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      const plain = Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]);
      return JSON.parse(plain.toString('utf8'));
    } catch {
      throw new CredentialKeyError('stored credentials failed authentication (corrupted or tampered with)');
    }
  }
}
