/** Types of `snappyjs` (pure JS, no native addon; ships none of its own). Only what we call. */
declare module 'snappyjs' {
  /**
   * Decodes a raw (unframed) snappy block. Throws when the bitstream is invalid or when its
   * declared uncompressed length exceeds `maxLength`, checked before anything is allocated.
   */
  export function uncompress(compressed: Buffer, maxLength?: number): Buffer;
  export function compress(uncompressed: Buffer): Buffer;
}
