/** What the api answered: the body parsed when it says it is JSON, else its text ('' for none). */
export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface ApiRequest {
  /** Sent as `Authorization: Bearer <key>`. */
  key?: string;
  /** The whole Authorization header, for tests of malformed ones. */
  authorization?: string;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** One request to an api process, as a client would send it. */
export async function callApi(
  base: string,
  method: string,
  path: string,
  request: ApiRequest = {},
): Promise<ApiAnswer> {
  const authorization = request.authorization ?? (request.key && `Bearer ${request.key}`);
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(authorization && { authorization }),
      ...(request.body !== undefined && { 'content-type': 'application/json' }),
      ...request.headers,
    },
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
  });
  const text = await response.text();
  const json = /json/.test(response.headers.get('content-type') ?? '');
  return { status: response.status, headers: response.headers, body: json ? JSON.parse(text) : text };
}
