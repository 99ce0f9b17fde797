/**
 * List paging shared by every list endpoint (DESIGN.md §6): `limit` (default 100, max 1000)
 * and an opaque `cursor` in; `has_more` and `next_cursor` out. Schemas for the route
 * declarations, and the page shape the repositories return.
 */
import { Type } from 'typebox';
import { MAX_CURSOR_LENGTH } from './cursor.ts';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

/** Spread into a querystring schema's properties. */
export const PagingQueryProperties = {
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_LIMIT,
      default: DEFAULT_LIMIT,
      description: `Items per page (1–${MAX_LIMIT}).`,
    }),
  ),
  cursor: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: MAX_CURSOR_LENGTH,
      description: '`next_cursor` of the previous page, with the same filters.',
    }),
  ),
};

/** Spread into a list response schema's properties. */
export const PageProperties = {
  has_more: Type.Boolean({ description: 'More items follow this page.' }),
  next_cursor: Type.Union([Type.String(), Type.Null()], {
    description: 'Pass as `cursor` for the next page; null on the last page.',
  }),
};

export interface Page<T> {
  items: T[];
  has_more: boolean;
  next_cursor: string | null;
}
