export interface ApiResponse<T = any> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

/** A small JSON client for the service under test; every request goes to 127.0.0.1. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string | undefined,
  ) {}

  static async signIn(baseUrl: string, email: string, password: string): Promise<ApiClient> {
    const anonymous = new ApiClient(baseUrl, undefined);
    const response = await anonymous.post('/api/v1/auth/token', { email, password });
    if (response.status !== 200) throw new Error(`sign-in failed: ${JSON.stringify(response.body)}`);
    return new ApiClient(baseUrl, response.body.token as string);
  }

  get(path: string): Promise<ApiResponse> {
    return this.request('GET', path);
  }

  post(path: string, body?: unknown): Promise<ApiResponse> {
    return this.request('POST', path, body);
  }

  patch(path: string, body: unknown): Promise<ApiResponse> {
    return this.request('PATCH', path, body);
  }

  put(path: string, body: unknown): Promise<ApiResponse> {
    return this.request('PUT', path, body);
  }

  delete(path: string): Promise<ApiResponse> {
    return this.request('DELETE', path);
  }

  /** Sends a body as raw text, e.g. to check how malformed JSON is handled. */
  async raw(method: string, path: string, text: string, contentType = 'application/json'): Promise<ApiResponse> {
    return this.#send(method, path, text, contentType);
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<ApiResponse> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    return this.#send(method, path, text, 'application/json', extraHeaders);
  }

  /** The same API as another token, e.g. a publish-only token. */
  withToken(token: string): ApiClient {
    return new ApiClient(this.baseUrl, token);
  }

  async #send(
    method: string,
    path: string,
    text: string | undefined,
    contentType: string,
    extraHeaders: Record<string, string> = {},
  ): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (text !== undefined) headers['content-type'] = contentType;
    const response = await fetch(this.baseUrl + path, { method, headers, body: text });
    const raw = await response.text();
    let parsed: unknown = raw;
    try {
      parsed = raw === '' ? null : JSON.parse(raw);
    } catch {
      // Not JSON: keep the text.
    }
    return { status: response.status, headers: response.headers, body: parsed };
  }
}

/**
 * Creates a draft SAT report as `client` and submits it, which emits a `submission` event.
 * Returns the submit response; `headers` go with the submit request only.
 */
export async function submitNewReport(
  client: ApiClient,
  title: string,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const report = await client.post('/api/v1/reports', {
    type: 'SAT',
    title,
    reference: `SAT-${title.replace(/\W+/g, '-').toUpperCase()}`,
    client: 'Northwind Water',
  });
  if (report.status !== 201) throw new Error(`creating a report failed: ${JSON.stringify(report.body)}`);
  return client.request('POST', `/api/v1/reports/${report.body.id}/submit`, undefined, headers);
}
