import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressPolicy } from '../src/outbound/address-policy.js';

// Pure checks: no address here is ever connected to.
const policy = new AddressPolicy(['127.0.0.2/32', '2001:db8:aa::/48']);

/** [address, expected block reason or undefined when allowed] */
const CASES: ReadonlyArray<[string, string | undefined]> = [
  // Public unicast.
  ['8.8.8.8', undefined],
  ['1.1.1.1', undefined],
  ['2606:4700:4700::1111', undefined],
  ['2a00:1450::1', undefined],
  // Loopback, unspecified, this network.
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['::1', 'loopback'],
  ['0.0.0.0', 'unspecified address'],
  ['0.1.2.3', 'unspecified address'],
  ['::', 'unspecified address'],
  // RFC 1918, carrier-grade NAT, link-local and cloud metadata.
  ['10.0.0.5', 'private network'],
  ['172.16.0.1', 'private network'],
  ['172.31.255.255', 'private network'],
  ['192.168.1.1', 'private network'],
  ['100.64.0.1', 'carrier-grade NAT'],
  ['100.127.255.254', 'carrier-grade NAT'],
  ['169.254.169.254', 'link-local'],
  ['fe80::1', 'link-local'],
  ['fd00:ec2::254', 'unique local address'],
  ['fc00::1', 'unique local address'],
  ['fd12:3456::1', 'unique local address'],
  ['fec0::1', 'site-local'],
  // Multicast, broadcast, reserved, documentation, benchmarking.
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['ff02::1', 'multicast'],
  ['255.255.255.255', 'broadcast address'],
  ['240.0.0.1', 'reserved or documentation range'],
  ['192.0.0.8', 'reserved or documentation range'],
  ['192.0.2.1', 'reserved or documentation range'],
  ['198.51.100.7', 'reserved or documentation range'],
  ['203.0.113.9', 'reserved or documentation range'],
  ['192.88.99.1', 'reserved or documentation range'],
  ['198.18.0.1', 'reserved or documentation range'],
  ['2001:db8::1', 'reserved or documentation range'],
  ['3fff::1', 'reserved or documentation range'],
  ['2001:2::1', 'benchmarking range'],
  ['100::1', 'discard-only range'],
  ['4000::1', 'reserved or documentation range'],
  ['5f00::1', 'segment routing range'],
  ['192.31.196.1', 'AS112 range'],
  ['192.52.193.1', 'AMT relay range'],
  // IPv4-mapped, SIIT and IPv4-compatible forms.
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:10.0.0.5', 'private network'],
  ['::ffff:169.254.169.254', 'link-local'],
  ['::ffff:0.0.0.0', 'unspecified address'],
  ['::ffff:8.8.8.8', undefined],
  ['::ffff:0:127.0.0.1', 'loopback'],
  ['::127.0.0.1', 'loopback'],
  ['::10.0.0.5', 'private network'],
  ['::0.0.0.2', 'unspecified address'],
  ['::8.8.8.8', undefined],
  // NAT64: the well-known /96 is judged by the IPv4 address inside; the local-use /48 is blocked.
  ['64:ff9b::127.0.0.1', 'loopback'],
  ['64:ff9b::a9fe:a9fe', 'link-local'],
  ['64:ff9b::808:808', undefined],
  ['64:ff9b:1::1', 'local-use NAT64 range'],
  ['64:ff9b:1:ffff::808:808', 'local-use NAT64 range'],
  ['64:ff9b:0:1::1', 'reserved or documentation range'],
  // 6to4 carries the IPv4 address in bits 16-47.
  ['2002:7f00:1::1', 'loopback'],
  ['2002:a00:5::1', 'private network'],
  ['2002:a9fe:a9fe::', 'link-local'],
  ['2002:808:808::1', undefined],
  // Teredo: server in bits 32-63, client inverted in bits 96-127.
  ['2001:0:808:808::80ff:fffe', 'loopback'],
  ['2001:0:a00:5::f7f7:f7f7', 'private network'],
  ['2001:0:808:808::f7f7:f7f7', undefined],
  // Zone ids and text that is not an address in standard form.
  ['fe80::1%lo', 'IPv6 zone id'],
  ['fe80::1%25eth0', 'IPv6 zone id'],
  ['2130706433', 'not an IP address'],
  ['0x7f.1', 'not an IP address'],
  ['0177.0.0.1', 'not an IP address'],
  ['127.1', 'not an IP address'],
  ['localhost', 'not an IP address'],
  ['', 'not an IP address'],
  // Exemptions apply to the network listed and to embedded forms of it, nothing wider.
  ['127.0.0.2', undefined],
  ['::ffff:127.0.0.2', undefined],
  ['127.0.0.3', 'loopback'],
  ['2001:db8:aa::1', undefined],
  ['2001:db8:ab::1', 'reserved or documentation range'],
];

describe('AddressPolicy', () => {
  for (const [address, expected] of CASES) {
    it(`${address || '(empty)'} is ${expected === undefined ? 'allowed' : `blocked as ${expected}`}`, () => {
      assert.equal(policy.blockReason(address), expected);
    });
  }

  it('blocks loopback when no network is exempt', () => {
    const strict = new AddressPolicy([]);
    assert.equal(strict.blockReason('127.0.0.2'), 'loopback');
    assert.equal(strict.blockReason('::ffff:127.0.0.2'), 'loopback');
  });

  it('blocks a Teredo address when only one embedded address is exempt', () => {
    // Server 127.0.0.2 is exempt, client 10.0.0.5 is not.
    assert.equal(policy.blockReason('2001:0:7f00:2::f5ff:fffa'), 'private network');
  });
});
