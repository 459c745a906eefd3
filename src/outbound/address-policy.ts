import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

const RANGE_LABELS: Readonly<Record<string, string>> = {
  unspecified: 'unspecified address',
  broadcast: 'broadcast address',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT',
  private: 'private network',
  reserved: 'reserved or documentation range',
  uniqueLocal: 'unique local address',
  benchmarking: 'benchmarking range',
  discard: 'discard-only range',
  amt: 'AMT relay range',
  as112: 'AS112 range',
  deprecated: 'deprecated range',
  orchid2: 'ORCHIDv2 range',
  deprecatedOrchid: 'deprecated ORCHID range',
  droneRemoteIdProtocolEntityTags: 'DRIP entity tag range',
  siteLocal: 'site-local',
};

/**
 * Decides which IP addresses outbound webhook requests may connect to. Only globally
 * routable unicast addresses pass, unless an address falls inside one of the networks that
 * the operator exempts. IPv6 forms that embed an IPv4 address (IPv4-mapped and -compatible,
 * SIIT, NAT64, 6to4, Teredo) are judged by the address they embed.
 */
export class AddressPolicy {
  readonly #allowed: ReadonlyArray<[Address, number]>;

  constructor(allowedCidrs: readonly string[]) {
    this.#allowed = allowedCidrs.map((cidr) => ipaddr.parseCIDR(cidr));
  }

  /** Returns why `address` is blocked, or undefined when a connection to it is allowed. */
  blockReason(address: string): string | undefined {
    let parsed: Address;
    try {
      parsed = ipaddr.parse(address);
    } catch {
      return 'not an IP address';
    }
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).zoneId) return 'IPv6 zone id';

    const embedded = embeddedIPv4(parsed);
    if (this.#isExempt(parsed) || embedded.some((inner) => this.#isExempt(inner))) return undefined;
    if (embedded.length > 0) {
      for (const inner of embedded) {
        const reason = rangeReason(inner);
        if (reason !== undefined) return reason;
      }
      return undefined;
    }
    if (isNat64LocalUse(parsed)) return 'local-use NAT64 range';
    return rangeReason(parsed);
  }

  #isExempt(address: Address): boolean {
    return this.#allowed.some(
      ([network, prefix]) => network.kind() === address.kind() && address.match(network, prefix),
    );
  }
}

function rangeReason(address: Address): string | undefined {
  const range = address.range();
  if (range === 'unicast') return undefined;
  return RANGE_LABELS[range] ?? `special-purpose range (${range})`;
}

/** The IPv4 addresses an IPv6 address carries in one of the standard embeddings. */
function embeddedIPv4(address: Address): ipaddr.IPv4[] {
  if (address.kind() !== 'ipv6') return [];
  const v6 = address as ipaddr.IPv6;
  const parts = v6.parts;
  const fromWords = (high: number, low: number): ipaddr.IPv4 =>
    new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  const word = (index: number): number => parts[index] ?? 0;

  switch (v6.range()) {
    case 'ipv4Mapped':
    case 'rfc6145':
      return [fromWords(word(6), word(7))];
    case 'rfc6052':
      // 64:ff9b::/96 keeps the IPv4 address in the last 32 bits; the /48 local-use prefix
      // is judged as a whole by isNat64LocalUse.
      return word(2) === 0 ? [fromWords(word(6), word(7))] : [];
    case '6to4':
      return [fromWords(word(1), word(2))];
    case 'teredo':
      // Server address in bits 32-63, client address inverted in bits 96-127.
      return [fromWords(word(2), word(3)), fromWords(~word(6) & 0xffff, ~word(7) & 0xffff)];
    default:
      break;
  }

  // IPv4-compatible ::a.b.c.d (deprecated, but still parsed by some stacks).
  if (parts.slice(0, 6).every((part) => part === 0) && (word(6) !== 0 || word(7) > 1)) {
    return [fromWords(word(6), word(7))];
  }
  return [];
}

function isNat64LocalUse(address: Address): boolean {
  if (address.kind() !== 'ipv6') return false;
  const parts = (address as ipaddr.IPv6).parts;
  return parts[0] === 0x64 && parts[1] === 0xff9b && parts[2] !== 0;
}
