/** Maps a viewer's IP to a colo by longest-prefix match over the colos' CIDRs. */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { ColoConfig } from './config.js';

export interface Colo {
  readonly name: string;
  readonly host: string;
  /** Position in config order, for array-indexed per-colo state. */
  readonly index: number;
}

interface Table<K> {
  /** Prefix lengths present, longest first; each with its masked network → colo. */
  readonly levels: { len: number; nets: Map<K, Colo> }[];
}

function addLevel<K>(t: Table<K>, len: number, key: K, colo: Colo): void {
  let level = t.levels.find((l) => l.len === len);
  if (!level) {
    level = { len, nets: new Map() };
    t.levels.push(level);
    t.levels.sort((a, b) => b.len - a.len);
  }
  // The first colo to claim a network keeps it; config order breaks exact ties.
  if (!level.nets.has(key)) level.nets.set(key, colo);
}

const mask4 = (len: number): number => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);
const mask6 = (len: number): bigint => (len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(128 - len));

function v4ToInt(bytes: number[]): number {
  return (((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)) >>> 0;
}

function v6ToBigInt(bytes: number[]): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/**
 * A dotted quad as node:net's isIPv4 takes it (four decimal octets, no leading zeros),
 * as a number; -1 for anything else, which then takes the general path. By hand because
 * this runs once per hint: isIP, ipaddr.parse and toByteArray cost ~1 µs between them.
 */
export function parseDottedQuad(s: string): number {
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let ip = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      ip = ip * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && octet === 0) return -1; // a leading zero
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return ip * 256 + octet;
}

export class ColoRouter {
  readonly colos: readonly Colo[];
  private readonly byName = new Map<string, Colo>();
  private readonly v4: Table<number> = { levels: [] };
  private readonly v6: Table<bigint> = { levels: [] };
  private readonly fallback: Colo | undefined;

  constructor(colos: readonly ColoConfig[], defaultColo?: string) {
    this.colos = colos.map((c, index) => ({ name: c.name, host: c.host, index }));
    for (const colo of this.colos) this.byName.set(colo.name, colo);
    colos.forEach((c, i) => {
      const colo = this.colos[i] as Colo;
      for (const cidr of c.cidrs) {
        const [addr, len] = ipaddr.parseCIDR(cidr);
        if (addr.kind() === 'ipv4') addLevel(this.v4, len, (v4ToInt(addr.toByteArray()) & mask4(len)) >>> 0, colo);
        else addLevel(this.v6, len, v6ToBigInt(addr.toByteArray()) & mask6(len), colo);
      }
    });
    this.fallback = defaultColo === undefined ? undefined : this.byName.get(defaultColo);
  }

  byColoName(name: string): Colo | undefined {
    return this.byName.get(name);
  }

  /**
   * The colo for a viewer: `null` when the address does not parse (an invalid hint),
   * `undefined` when it parses but no colo serves it and there is no default.
   */
  route(viewer: string): Colo | null | undefined {
    const quad = parseDottedQuad(viewer);
    if (quad >= 0) return this.routeV4(quad);
    // ipaddr.js also takes forms like "127.1" or "0x7f.0.0.1"; hints carry only the standard ones.
    if (isIP(viewer) === 0) return null;
    let addr: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      addr = ipaddr.parse(viewer);
    } catch {
      return null;
    }
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
    if (addr.kind() === 'ipv4') return this.routeV4(v4ToInt(addr.toByteArray()));
    else {
      const ip = v6ToBigInt(addr.toByteArray());
      for (const { len, nets } of this.v6.levels) {
        const colo = nets.get(ip & mask6(len));
        if (colo) return colo;
      }
    }
    return this.fallback;
  }

  private routeV4(ip: number): Colo | undefined {
    for (const { len, nets } of this.v4.levels) {
      const colo = nets.get((ip & mask4(len)) >>> 0);
      if (colo) return colo;
    }
    return this.fallback;
  }
}
