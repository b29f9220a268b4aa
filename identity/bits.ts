/** Bits set in a 32-bit value (SWAR: no table, no loop). */
export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Bits that differ between two 256-bit hashes. */
export function hamming(a: Buffer, b: Buffer): number {
  let d = 0;
  for (let i = 0; i < 32; i += 4) d += popcount32((a.readUInt32BE(i) ^ b.readUInt32BE(i)) >>> 0);
  return d;
}
