import { MAX_REDIRECTS, type OutboundClient, type OutboundResult } from '../outbound/client.js';
import { sign } from './signature.js';

export const USER_AGENT = 'report-webhooks/0.1';
const MASK = '********';

/** Destination of a message: a webhook's URL, custom headers and signing key. */
export interface SendTarget {
  readonly id: string;
  /** The stored URL text; the outbound client parses and checks it at send time. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly key: Buffer;
  /** Follow up to MAX_REDIRECTS redirects rather than record the 3xx. */
  readonly followRedirects: boolean;
  /** The replaced secret's key during a rotation's overlap period. */
  readonly previousKey?: Buffer;
}

export interface SendOutcome {
  readonly result: OutboundResult;
  readonly startedAt: number;
  /** The headers sent, with custom values and the signature masked for storage. */
  readonly recordedHeaders: Record<string, string>;
}

/** Signs a message body for one webhook and sends it through the outbound client. */
export class DeliverySender {
  constructor(
    private readonly client: OutboundClient,
    private readonly now: () => number = Date.now,
  ) {}

  async send(target: SendTarget, messageId: string, body: string): Promise<SendOutcome> {
    const startedAt = this.now();
    const timestamp = Math.floor(startedAt / 1000);
    // Standard Webhooks allows several space-separated signatures; receivers accept the
    // request when any of them verifies, so both old and new secrets work during a rotation.
    const signatures = [sign(target.key, messageId, timestamp, body)];
    if (target.previousKey) signatures.push(sign(target.previousKey, messageId, timestamp, body));
    const signature = signatures.join(' ');
    const owned = {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'webhook-id': messageId,
      'webhook-timestamp': String(timestamp),
    };

    const result = await this.client.send({
      url: target.url,
      headers: { ...owned, 'webhook-signature': signature },
      // Custom headers usually carry the receiver's credentials: never sent to another origin.
      originHeaders: target.headers,
      body,
      maxRedirects: target.followRedirects ? MAX_REDIRECTS : 0,
    });

    const recordedHeaders: Record<string, string> = {
      ...owned,
      'webhook-signature': signatures.map(() => `v1,${MASK}`).join(' '),
    };
    for (const name of Object.keys(target.headers)) recordedHeaders[name] = MASK;
    return { result, startedAt, recordedHeaders };
  }
}
