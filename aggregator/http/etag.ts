/**
 * Resource versions as HTTP validators (DESIGN.md §5): a stored document's
 * `_seq_no` / `_primary_term` is its `ETag`, and `If-Match` carries it back so a write
 * applies only to the version the caller read. Pure.
 */
import { Type } from 'typebox';
import { invalidRequest } from '../errors.ts';

/** The store's version of one document: OpenSearch `_seq_no` and `_primary_term`. */
export interface DocVersion {
  readonly seqNo: number;
  readonly primaryTerm: number;
}

/** A strong ETag: `"<primary term>.<seq no>"`. */
export function formatEtag(v: DocVersion): string {
  return `"${v.primaryTerm}.${v.seqNo}"`;
}

/** Version string as the bodies show it (the ETag without quotes). */
export function formatVersion(v: DocVersion): string {
  return `${v.primaryTerm}.${v.seqNo}`;
}

const ONE = /^\s*(?:W\/)?"?(\d{1,19})\.(\d{1,19})"?\s*$/;

/**
 * The version an `If-Match` header (or a body's `version`) asks for: undefined when absent,
 * `'*'` for "any current version". A list of several tags is refused (one resource, one
 * version); anything unparsable is a 400, never silently ignored — an ignored precondition
 * would turn a safe write into a blind one.
 */
export function parseIfMatch(header: string | string[] | undefined): DocVersion | '*' | undefined {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value.trim() === '*') return '*';
  const m = ONE.exec(value);
  if (!m) throw invalidRequest('If-Match: expected one ETag of this resource, as returned in `ETag`');
  return { primaryTerm: Number(m[1]), seqNo: Number(m[2]) };
}

/**
 * The `If-Match` request header of a conditional write (`PUT` / `DELETE` of a resource), for
 * route schemas: shared so every such route documents it in `/docs` alike.
 */
export const IfMatchHeadersSchema = Type.Object({
  'if-match': Type.Optional(
    Type.String({
      description: 'Write only if the resource is still at this ETag (else 412); `*`: any current version.',
    }),
  ),
});
