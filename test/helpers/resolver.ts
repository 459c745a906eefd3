import type { Lookup } from '../../src/outbound/destination.js';

/**
 * A resolver the test controls, passed to the service in place of DNS. Names not set
 * fail as unknown, so no test depends on a real resolver. `setOnce` answers one lookup,
 * then falls back to the steady answer, which is how a rebinding name behaves.
 */
export class FakeResolver {
  readonly #answers = new Map<string, string[]>();
  readonly #once = new Map<string, string[]>();
  readonly calls: string[] = [];

  readonly lookup: Lookup = async (host) => {
    this.calls.push(host);
    const name = host.toLowerCase();
    const once = this.#once.get(name);
    if (once !== undefined) {
      this.#once.delete(name);
      return [...once];
    }
    const answers = this.#answers.get(name);
    if (answers === undefined) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    }
    return [...answers];
  };

  set(name: string, addresses: string[]): void {
    this.#answers.set(name.toLowerCase(), addresses);
  }

  setOnce(name: string, addresses: string[]): void {
    this.#once.set(name.toLowerCase(), addresses);
  }
}
