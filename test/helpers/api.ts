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
    /** Sent with every request, e.g. a session cookie, Origin and x-csrf-token. */
    readonly extraHeaders: Readonly<Record<string, string>> = {},
  ) {}

  /** A copy of this client that also sends the given headers. */
  withHeaders(headers: Record<string, string>): ApiClient {
    return new ApiClient(this.baseUrl, this.token, { ...this.extraHeaders, ...headers });
  }

  /**
   * Signs in as a browser does: the client sends the session cookie, this origin and the
   * session's CSRF token, and no bearer token.
   */
  static async startSession(
    baseUrl: string,
    email: string,
    password: string,
  ): Promise<BrowserSession> {
    const anonymous = new ApiClient(baseUrl, undefined, { origin: baseUrl });
    const response = await anonymous.post('/api/v1/auth/login', { email, password });
    if (response.status !== 200) throw new Error(`login failed: ${JSON.stringify(response.body)}`);
    const setCookie = response.headers.get('set-cookie') ?? '';
    const cookie = setCookie.split(';')[0] ?? '';
    const csrfToken = response.body.csrf_token as string;
    return {
      client: anonymous.withHeaders({ cookie, 'x-csrf-token': csrfToken }),
      cookie,
      setCookie,
      csrfToken,
    };
  }

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
    const headers: Record<string, string> = { ...this.extraHeaders, ...extraHeaders };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (text !== undefined) headers['content-type'] = contentType;
    const response = await fetch(this.baseUrl + path, {
      method,
      headers,
      body: text,
      redirect: 'manual',
    });
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

export interface BrowserSession {
  /** Sends the cookie, Origin and x-csrf-token headers with every request. */
  readonly client: ApiClient;
  /** The `name=value` pair of the session cookie. */
  readonly cookie: string;
  /** The whole Set-Cookie header of the login response. */
  readonly setCookie: string;
  readonly csrfToken: string;
}
