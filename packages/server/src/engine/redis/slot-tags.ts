/**
 * Redis Cluster slots, computed here: which slot a key belongs to (CRC16/XMODEM of its hash tag,
 * modulo 16384, as Redis computes it) and, for every slot, a short hash tag that lands in it.
 *
 * A tag per slot lets a script that runs in one conversation's slot write to a key of ours in that
 * same slot (the webhook outbox of the slot): Cluster refuses a script whose keys span slots, but
 * not keys with different tags that share one.
 */
export const CLUSTER_SLOTS = 16384;

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] ?? 0);
  return crc;
}

/** The part of a key Redis hashes: the first non-empty `{…}`, else the whole key. */
function hashedPart(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  return close === -1 || close === open + 1 ? key : key.slice(open + 1, close);
}

/** The Cluster slot of `key`. */
export function keySlot(key: string): number {
  return crc16(Buffer.from(hashedPart(key), 'utf8')) % CLUSTER_SLOTS;
}

let tags: string[] | null = null;

/** A hash tag (without braces) whose keys land in `slot`; the same on every node. */
export function slotTag(slot: number): string {
  if (tags === null) {
    // Short candidates in a fixed order until every slot has one (≈ 150,000 tries, a few ms, once).
    const found: (string | undefined)[] = new Array<string | undefined>(CLUSTER_SLOTS);
    let missing = CLUSTER_SLOTS;
    for (let n = 0; missing > 0; n++) {
      const candidate = `s${n.toString(36)}`;
      const at = keySlot(candidate);
      if (found[at] === undefined) {
        found[at] = candidate;
        missing -= 1;
      }
    }
    tags = found as string[];
  }
  const tag = tags[slot];
  if (tag === undefined) throw new RangeError(`not a Cluster slot: ${slot}`);
  return tag;
}
