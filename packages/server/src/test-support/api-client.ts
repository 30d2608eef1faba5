/** A small HTTP client for tests: real sockets, JSON in and out, the response as a user sees it. */
export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, otherwise undefined. */
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string;
  json?: unknown;
  /** A raw body (sent as is, with `contentType`). */
  body?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface ApiClient {
  readonly baseUrl: string;
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<ApiResponse<T>>;
  get<T = any>(path: string, token?: string): Promise<ApiResponse<T>>;
  post<T = any>(path: string, json: unknown, token?: string): Promise<ApiResponse<T>>;
  patch<T = any>(path: string, json: unknown, token?: string): Promise<ApiResponse<T>>;
  put<T = any>(path: string, json: unknown, token?: string): Promise<ApiResponse<T>>;
  delete<T = any>(path: string, token?: string): Promise<ApiResponse<T>>;
}

export function createApiClient(baseUrl: string): ApiClient {
  async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    // A Buffer's bytes as a plain Uint8Array: the DOM typings (the SDK's tests import this file) take no Buffer.
    let body: string | Uint8Array<ArrayBuffer> | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    } else if (options.body !== undefined) {
      body = typeof options.body === 'string' ? options.body : new Uint8Array(options.body);
      if (options.contentType) headers['content-type'] = options.contentType;
    }
    const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    const parsed = type.includes('json') && text !== '' ? JSON.parse(text) : undefined;
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }
  return clientOf(baseUrl, request);
}

/** A client whose shorthands (get, post…) all go through `request` (so a wrapper changes them all). */
export function clientOf(baseUrl: string, request: ApiClient['request']): ApiClient {
  return {
    baseUrl,
    request,
    get: (path, token) => request('GET', path, token ? { token } : {}),
    post: (path, json, token) => request('POST', path, { json, ...(token ? { token } : {}) }),
    patch: (path, json, token) => request('PATCH', path, { json, ...(token ? { token } : {}) }),
    put: (path, json, token) => request('PUT', path, { json, ...(token ? { token } : {}) }),
    delete: (path, token) => request('DELETE', path, token ? { token } : {}),
  };
}
