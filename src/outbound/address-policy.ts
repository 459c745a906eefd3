import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Labels for the special-purpose ranges of ipaddr.js 2.x, as they appear in block reasons. */
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
  as112v6: 'AS112 range',
  deprecated: 'deprecated range',
  orchid2: 'ORCHIDv2 range',
  deprecatedOrchid: 'deprecated ORCHID range',
  droneRemoteIdProtocolEntityTags: 'DRIP entity tag range',
  deprecatedSiteLocal: 'site-local',
  segmentRouting: 'segment routing range',
};

/** 2000::/3, the only IPv6 block IANA allocates for global unicast. */
const GLOBAL_UNICAST_V6: [ipaddr.IPv6, number] = [ipaddr.IPv6.parse('2000::'), 3];
/** 64:ff9b:1::/48, NAT64 prefixes for local use inside one network. */
const NAT64_LOCAL_USE: [ipaddr.IPv6, number] = [ipaddr.IPv6.parse('64:ff9b:1::'), 48];

/**
 * Decides which IP addresses outbound webhook requests may connect to. Only globally
 * routable unicast addresses pass, unless an address falls inside one of the networks that
 * the operator exempts. IPv6 forms that embed an IPv4 address (IPv4-mapped and -compatible,
 * SIIT, NAT64, 6to4, Teredo) pass only when every embedded address would pass.
 */
export class AddressPolicy {
  readonly #allowed: ReadonlyArray<[Address, number]>;

  constructor(allowedCidrs: readonly string[]) {
    this.#allowed = allowedCidrs.map((cidr) => ipaddr.parseCIDR(cidr));
  }

  /** Returns why `address` is blocked, or undefined when a connection to it is allowed. */
  blockReason(address: string): string | undefined {
    if (address.includes('%')) return 'IPv6 zone id';
    if (!ipaddr.isValid(address) || !isCanonicalText(address)) return 'not an IP address';
    const parsed = ipaddr.parse(address);
    if (this.#isExempt(parsed)) return undefined;

    const embedded = embeddedIPv4(parsed);
    if (embedded.length > 0) {
      for (const inner of embedded) {
        if (this.#isExempt(inner)) continue;
        const reason = rangeReason(inner);
        if (reason !== undefined) return reason;
      }
      return undefined;
    }
    if (parsed.kind() === 'ipv6' && parsed.match(NAT64_LOCAL_USE)) return 'local-use NAT64 range';
    return rangeReason(parsed);
  }

  #isExempt(address: Address): boolean {
    return this.#allowed.some(
      ([network, prefix]) => network.kind() === address.kind() && address.match(network, prefix),
    );
  }
}

/**
 * Tests for the dotted-quad and standard IPv6 forms. ipaddr.js also parses the legacy
 * decimal, octal and hex IPv4 forms. Resolvers and sockets return only the standard forms,
 * so the policy rejects the others rather than guess how another component reads them.
 */
function isCanonicalText(address: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(address) || ipaddr.IPv6.isValid(address);
}

function rangeReason(address: Address): string | undefined {
  const range = address.range();
  if (range === 'unicast') {
    if (address.kind() === 'ipv6' && !address.match(GLOBAL_UNICAST_V6)) {
      return 'reserved or documentation range';
    }
    return undefined;
  }
  return RANGE_LABELS[range] ?? `special-purpose range (${range})`;
}

/** Extracts the IPv4 addresses an IPv6 address embeds in one of the standard forms. */
function embeddedIPv4(address: Address): ipaddr.IPv4[] {
  if (address.kind() !== 'ipv6') return [];
  const v6 = address as ipaddr.IPv6;
  const word = (index: number): number => v6.parts[index] ?? 0;
  const fromWords = (high: number, low: number): ipaddr.IPv4 =>
    new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);

  switch (v6.range()) {
    case 'ipv4Mapped':
    case 'rfc6145':
      return [fromWords(word(6), word(7))];
    case 'rfc6052':
      // 64:ff9b::/96 keeps the IPv4 address in the last 32 bits. In the local-use /48 its
      // position depends on a prefix length chosen by the local network, so it is blocked whole.
      return v6.match(NAT64_LOCAL_USE) ? [] : [fromWords(word(6), word(7))];
    case '6to4':
      return [fromWords(word(1), word(2))];
    case 'teredo':
      // Server address in bits 32-63, client address inverted in bits 96-127.
      return [fromWords(word(2), word(3)), fromWords(~word(6) & 0xffff, ~word(7) & 0xffff)];
    default:
      break;
  }

  // IPv4-compatible ::a.b.c.d (deprecated, but still parsed by some stacks); :: and ::1
  // are judged as themselves.
  const zeroPrefix = v6.parts.slice(0, 6).every((part) => part === 0);
  if (zeroPrefix && (word(6) !== 0 || word(7) > 1)) return [fromWords(word(6), word(7))];
  return [];
}
