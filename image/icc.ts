/** What an embedded colour profile says it is, for deciding whether a resize keeps it. */

/**
 * The profile's description (its `desc` tag: ICC v2 `desc` ASCII, or v4 `mluc`, first
 * record), or undefined when it has none that reads.
 */
export function iccDescription(icc: Buffer): string | undefined {
  try {
    const tags = icc.readUInt32BE(128);
    for (let i = 0; i < tags && 132 + i * 12 + 12 <= icc.length; i++) {
      const at = 132 + i * 12;
      if (icc.toString('latin1', at, at + 4) !== 'desc') continue;
      const off = icc.readUInt32BE(at + 4);
      const type = icc.toString('latin1', off, off + 4);
      if (type === 'desc') return icc.toString('latin1', off + 12, off + 12 + icc.readUInt32BE(off + 8)).replace(/\0+$/, '');
      if (type === 'mluc') {
        const length = icc.readUInt32BE(off + 20);
        const start = off + icc.readUInt32BE(off + 24);
        return Buffer.from(icc.subarray(start, start + length))
          .swap16()
          .toString('utf16le');
      }
    }
  } catch {
    // A profile too short for what its table says: no description.
  }
  return undefined;
}

/** Whether a profile is (a flavour of) sRGB, which a browser assumes anyway: then it need not travel with a resize. */
export const isSrgbProfile = (icc: Buffer): boolean => /srgb/i.test(iccDescription(icc) ?? 'sRGB');
