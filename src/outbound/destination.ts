import dns from 'node:dns';
import net from 'node:net';
import type { AddressPolicy } from './address-policy.js';

export const MAX_URL_LENGTH = 2048;

/** Why a URL cannot be used as a webhook destination, with the field-level fix. */
export class UrlRejection extends Error {
  constructor(
    message: string,
    /** True when the URL is well formed but points somewhere webhooks may not go. */
    readonly blocked = false,
  ) {
    super(message);
    this.name = 'UrlRejection';
  }
}

/** Raised when a destination resolves to an address the policy blocks. */
export class BlockedAddressError extends Error {
  readonly code = 'ERR_BLOCKED_ADDRESS';

  constructor(
    readonly address: string,
    readonly reason: string,
  ) {
    super(`blocked address ${address} (${reason})`);
    this.name = 'BlockedAddressError';
  }
}

const FORBIDDEN_CHARACTERS: ReadonlyArray<[RegExp, string]> = [
  [/[\u0000-\u001f\u007f]/, 'a control character such as a tab, CR, LF or NUL'],
  [/ /, 'a space'],
  [/\\/, 'a backslash'],
];

/**
 * Parses a webhook URL with the WHATWG URL parser and checks its form: absolute http or
 * https, no credentials, no fragment, no trailing dot, a permitted port. Returns the
 * parser's serialisation, which is what gets stored and dialled.
 */
export function normaliseWebhookUrl(text: string, allowedPorts: readonly number[]): URL {
  if (text.length > MAX_URL_LENGTH) {
    throw new UrlRejection(`is ${text.length} characters long; the maximum is ${MAX_URL_LENGTH}.`);
  }
  for (const [pattern, description] of FORBIDDEN_CHARACTERS) {
    if (pattern.test(text)) {
      throw new UrlRejection(`contains ${description}; percent-encode it or remove it.`);
    }
  }

  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The WHATWG parser rejects zone ids in IPv6 hosts. Name that cause, not a malformed URL.
    if (/\[[^\]]*%/.test(text)) {
      throw new UrlRejection('contains an IPv6 zone id; zone ids are not accepted, use a routable address.');
    }
    throw new UrlRejection('is not an absolute URL; write it as https://host/path.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UrlRejection(`uses the scheme ${url.protocol.slice(0, -1)}; only http and https are allowed.`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new UrlRejection(
      'contains credentials; remove them from the URL and send them in a custom header such as Authorization.',
    );
  }
  if (url.hostname.endsWith('.')) {
    throw new UrlRejection('has a host name that ends with a dot; remove the trailing dot.');
  }
  if (url.href.length > MAX_URL_LENGTH) {
    throw new UrlRejection(`is longer than ${MAX_URL_LENGTH} characters once normalised.`);
  }

  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  if (port === 0) throw new UrlRejection('uses port 0; give the port the receiver listens on.');
  if (allowedPorts.length > 0 && !allowedPorts.includes(port)) {
    throw new UrlRejection(
      `uses port ${port}; webhooks may use only ports ${allowedPorts.join(', ')}.`,
      true,
    );
  }
  url.hash = '';
  return url;
}

/** The host of a parsed URL as a resolver or socket expects it: IPv6 without brackets. */
export function bareHostname(url: URL): string {
  const host = url.hostname;
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

function isLocalhostName(host: string): boolean {
  const lower = host.toLowerCase();
  return lower === 'localhost' || lower.endsWith('.localhost');
}

export type Lookup = (host: string) => Promise<string[]>;

export const systemLookup: Lookup = async (host) => {
  const answers = await dns.promises.lookup(host, { all: true, verbatim: true });
  return answers.map((answer) => answer.address);
};

/**
 * Resolves a host and checks every address it resolves to, so that a name with one
 * allowed and one blocked answer is blocked. Returns the addresses in resolver order.
 * Names under `localhost` are treated as loopback whatever the resolver says.
 */
export async function resolveAllowed(
  host: string,
  policy: AddressPolicy,
  lookup: Lookup = systemLookup,
): Promise<string[]> {
  let addresses: string[];
  if (net.isIP(host) !== 0) addresses = [host];
  else if (isLocalhostName(host)) addresses = ['127.0.0.1', '::1'];
  else addresses = await lookup(host);

  for (const address of addresses) {
    const reason = policy.blockReason(address);
    if (reason !== undefined) throw new BlockedAddressError(address, reason);
  }
  if (addresses.length === 0) {
    throw Object.assign(new Error(`no address found for ${host}`), { code: 'ENOTFOUND' });
  }
  return addresses;
}
