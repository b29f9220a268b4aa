/**
 * The in-memory index: 40-bit key hash → (volume slot, offset, length), 15 bytes per
 * needle in typed arrays, with no per-entry object and no slack. Haystack keeps ~10 bytes
 * a photo, SeaweedFS 10–16; a JS Map of the same would cost ~100, as Backpack's Redis
 * index did.
 *
 * Most entries live in one array sorted by hash (binary search, exact size: it is rebuilt
 * at each merge, never grown by doubling). New entries go to a small unsorted run with its
 * own open-addressing table, merged in once it holds 1/16 of the sorted entries: at that
 * ratio merges cost ~17 copies of the final array over a load, and the run ~1.5 bytes a
 * needle. A hash names candidates, not keys: two keys sharing one (once per trillion
 * pairs) are told apart by the key inside the needle, which the engine reads.
 */

export interface Loc {
  slot: number;
  /** Offset in the volume, in 4-byte units. */
  off: number;
  /** Needle length, in 4-byte units; never 0 for a live entry. */
  len: number;
}

const MIN_RUN = 4096;

class Columns {
  hi: Uint8Array;
  lo: Uint32Array;
  slot: Uint16Array;
  off: Uint32Array;
  len: Uint32Array;
  constructor(n: number) {
    this.hi = new Uint8Array(n);
    this.lo = new Uint32Array(n);
    this.slot = new Uint16Array(n);
    this.off = new Uint32Array(n);
    this.len = new Uint32Array(n);
  }
  get bytes(): number {
    return this.hi.byteLength + this.lo.byteLength + this.slot.byteLength + this.off.byteLength + this.len.byteLength;
  }
}

const cmp = (ahi: number, alo: number, bhi: number, blo: number): number => ahi - bhi || (alo > blo ? 1 : alo < blo ? -1 : 0);

export class NeedleIndex {
  private sorted = new Columns(0);
  private n = 0;
  private run = new Columns(MIN_RUN);
  private runN = 0;
  /** Open addressing over the run: run position + 1, 0 for empty. */
  private table = new Int32Array(MIN_RUN * 2);
  private live = 0;

  /** Live entries. */
  get size(): number {
    return this.live;
  }

  /** Bytes the index holds in typed arrays (what `hearth store stats` reports per needle). */
  get bytes(): number {
    return this.sorted.bytes + this.run.bytes + this.table.byteLength;
  }

  /** Every live location filed under this hash (almost always none or one). */
  candidates(hi: number, lo: number): Loc[] {
    const out: Loc[] = [];
    const s = this.sorted;
    for (let i = this.lowerBound(hi, lo); i < this.n && s.hi[i] === hi && s.lo[i] === lo; i++)
      if (s.len[i]) out.push({ slot: s.slot[i]!, off: s.off[i]!, len: s.len[i]! });
    const r = this.run;
    for (let h = this.home(lo), p; (p = this.table[h]!) !== 0; h = (h + 1) & (this.table.length - 1)) {
      const i = p - 1;
      if (r.hi[i] === hi && r.lo[i] === lo && r.len[i]) out.push({ slot: r.slot[i]!, off: r.off[i]!, len: r.len[i] });
    }
    return out;
  }

  add(hi: number, lo: number, at: Loc): void {
    if (this.runN === this.run.hi.length) this.growRun();
    const i = this.runN++;
    const r = this.run;
    r.hi[i] = hi;
    r.lo[i] = lo;
    r.slot[i] = at.slot;
    r.off[i] = at.off;
    r.len[i] = at.len;
    let h = this.home(lo);
    while (this.table[h] !== 0) h = (h + 1) & (this.table.length - 1);
    this.table[h] = i + 1;
    this.live++;
    if (this.runN >= Math.max(MIN_RUN, this.n >> 4)) this.merge();
  }

  /** Drops the entry at exactly this place; false when there is none. */
  remove(hi: number, lo: number, at: { slot: number; off: number }): boolean {
    return this.update(hi, lo, at, (cols, i) => {
      cols.len[i] = 0;
      this.live--;
    });
  }

  /** Points the entry at `from` to `to` (compaction moved the needle); false when there is no such entry any more. */
  move(hi: number, lo: number, from: { slot: number; off: number }, to: Loc): boolean {
    return this.update(hi, lo, from, (cols, i) => {
      cols.slot[i] = to.slot;
      cols.off[i] = to.off;
      cols.len[i] = to.len;
    });
  }

  /** Every live entry of one volume (compaction, stats). */
  *inSlot(slot: number): Iterable<{ hi: number; lo: number; off: number; len: number }> {
    for (const [cols, count] of [
      [this.sorted, this.n],
      [this.run, this.runN],
    ] as const) {
      for (let i = 0; i < count; i++)
        if (cols.len[i] && cols.slot[i] === slot) yield { hi: cols.hi[i]!, lo: cols.lo[i]!, off: cols.off[i]!, len: cols.len[i]! };
    }
  }

  /** Takes `count` entries already sorted by hash (a start's replay) as the whole index, in arrays of exact size. */
  adopt(cols: Pick<Columns, 'hi' | 'lo' | 'slot' | 'off' | 'len'>, count: number): void {
    const c = new Columns(0);
    Object.assign(c, cols);
    this.sorted = c;
    this.n = count;
    this.live = count;
    this.run = new Columns(MIN_RUN);
    this.runN = 0;
    this.table = new Int32Array(MIN_RUN * 2);
  }

  private update(hi: number, lo: number, at: { slot: number; off: number }, f: (cols: Columns, i: number) => void): boolean {
    const s = this.sorted;
    for (let i = this.lowerBound(hi, lo); i < this.n && s.hi[i] === hi && s.lo[i] === lo; i++) {
      if (s.len[i] && s.slot[i] === at.slot && s.off[i] === at.off) {
        f(s, i);
        return true;
      }
    }
    const r = this.run;
    for (let h = this.home(lo), p; (p = this.table[h]!) !== 0; h = (h + 1) & (this.table.length - 1)) {
      const i = p - 1;
      if (r.hi[i] === hi && r.lo[i] === lo && r.len[i] && r.slot[i] === at.slot && r.off[i] === at.off) {
        f(r, i);
        return true;
      }
    }
    return false;
  }

  private home(lo: number): number {
    // The hash's low bits are uniform already.
    return lo & (this.table.length - 1);
  }

  private lowerBound(hi: number, lo: number): number {
    let a = 0;
    let b = this.n;
    const s = this.sorted;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (cmp(s.hi[m]!, s.lo[m]!, hi, lo) < 0) a = m + 1;
      else b = m;
    }
    return a;
  }

  private growRun(): void {
    const bigger = new Columns(this.run.hi.length * 2);
    for (const k of ['hi', 'lo', 'slot', 'off', 'len'] as const) (bigger[k] as Uint32Array).set(this.run[k]);
    this.run = bigger;
    this.table = new Int32Array(bigger.hi.length * 2);
    for (let i = 0; i < this.runN; i++) {
      let h = this.home(bigger.lo[i]!);
      while (this.table[h] !== 0) h = (h + 1) & (this.table.length - 1);
      this.table[h] = i + 1;
    }
  }

  private merge(): void {
    const r = this.run;
    const order = radixOrder(r.hi, r.lo, this.runN);
    const s = this.sorted;
    const out = new Columns(this.live);
    let i = 0;
    let j = 0;
    let k = 0;
    const take = (cols: Columns, x: number): void => {
      out.hi[k] = cols.hi[x]!;
      out.lo[k] = cols.lo[x]!;
      out.slot[k] = cols.slot[x]!;
      out.off[k] = cols.off[x]!;
      out.len[k++] = cols.len[x]!;
    };
    while (i < this.n || j < order.length) {
      if (i < this.n && !s.len[i]) {
        i++;
        continue;
      }
      if (j < order.length && !r.len[order[j]!]) {
        j++;
        continue;
      }
      if (j >= order.length || (i < this.n && cmp(s.hi[i]!, s.lo[i]!, r.hi[order[j]!]!, r.lo[order[j]!]!) <= 0)) take(s, i++);
      else take(r, order[j++]!);
    }
    this.sorted = out;
    this.n = k;
    this.run = new Columns(MIN_RUN);
    this.runN = 0;
    this.table = new Int32Array(MIN_RUN * 2);
  }
}

/**
 * A stable order of the first `count` entries by 40-bit hash: LSD radix sort, four
 * 10-bit passes. A comparator sort of a 600,000-entry run takes ~0.5 s of the event loop; this,
 * ~20 ms, and 10 M entries at a restart ~1 s instead of ~7.
 */
export function radixOrder(hi: Uint8Array, lo: Uint32Array, count: number): Uint32Array {
  // The keys travel with the order (read in sequence, written scattered), so no pass reads
  // the key arrays through the permutation: at ten million entries that random reading,
  // not the counting, was most of a start's time.
  let order = new Uint32Array(count);
  let keyLo = lo.slice(0, count);
  let keyHi = hi.slice(0, count);
  for (let i = 0; i < count; i++) order[i] = i;
  let order2 = new Uint32Array(count);
  let lo2 = new Uint32Array(count);
  let hi2 = new Uint8Array(count);
  const counts = new Uint32Array(1024);
  // Four passes of 10 bits: the low word's bits 0–29, then its top two with the high byte.
  for (let pass = 0; pass < 4; pass++) {
    const shift = pass * 10;
    counts.fill(0);
    if (pass < 3) for (let i = 0; i < count; i++) counts[(keyLo[i]! >>> shift) & 1023]!++;
    else for (let i = 0; i < count; i++) counts[(keyLo[i]! >>> 30) | (keyHi[i]! << 2)]!++;
    let sum = 0;
    for (let d = 0; d < 1024; d++) {
      const c = counts[d]!;
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < count; i++) {
      const l = keyLo[i]!;
      const h = keyHi[i]!;
      const at = counts[pass < 3 ? (l >>> shift) & 1023 : (l >>> 30) | (h << 2)]!++;
      order2[at] = order[i]!;
      lo2[at] = l;
      hi2[at] = h;
    }
    [order, order2] = [order2, order];
    [keyLo, lo2] = [lo2, keyLo];
    [keyHi, hi2] = [hi2, keyHi];
  }
  return order;
}
