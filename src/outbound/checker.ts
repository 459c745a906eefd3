import { AppError } from '../errors.js';
import type { AddressPolicy } from './address-policy.js';
import {
  bareHostname,
  BlockedAddressError,
  normaliseWebhookUrl,
  resolveAllowed,
  systemLookup,
  UrlRejection,
  type Lookup,
} from './destination.js';

/**
 * Checks a webhook URL when it is saved, to give the admin an early and clear 400. The
 * outbound client checks again on every connection, so this is a courtesy, not the guard:
 * a name that does not resolve now is accepted and judged when it is dialled.
 */
export class DestinationChecker {
  constructor(
    private readonly policy: AddressPolicy,
    private readonly allowedPorts: readonly number[],
    private readonly lookup: Lookup = systemLookup,
    private readonly resolveTimeoutMs = 2_000,
  ) {}

  /** Returns the normalised URL text, or throws a 400 on the field `url`. */
  async check(text: string): Promise<string> {
    let url: URL;
    try {
      url = normaliseWebhookUrl(text, this.allowedPorts);
    } catch (error) {
      if (error instanceof UrlRejection) {
        throw new AppError(error.blocked ? 'blocked_destination' : 'invalid_request', `url ${error.message}`, 'url');
      }
      throw error;
    }

    try {
      await withTimeout(resolveAllowed(bareHostname(url), this.policy, this.lookup), this.resolveTimeoutMs);
    } catch (error) {
      if (error instanceof BlockedAddressError) {
        // The message names the kind of network but not the address a name resolved to.
        throw new AppError(
          'blocked_destination',
          `url resolves to a blocked address (${error.reason}), which webhooks may not reach; ` +
            'use a public address, or ask the operator to list the network in WEBHOOK_ALLOWED_CIDRS.',
          'url',
        );
      }
      // Resolution failed or timed out: accepted now, checked again at send time.
    }
    return url.href;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
