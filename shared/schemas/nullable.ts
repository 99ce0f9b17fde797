/** `T | null` as a schema: fields that are always present but may have no value yet. */
import { Type, type TSchema, type TUnion, type TNull } from 'typebox';

export const Nullable = <T extends TSchema>(t: T): TUnion<[T, TNull]> => Type.Union([t, Type.Null()]);
