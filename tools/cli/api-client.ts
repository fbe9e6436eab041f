/** The Fleetlog API as the CLI calls it: FLEETLOG_API_URL and FLEETLOG_API_KEY from the environment. */
export class ApiClient {
  private readonly baseUrl: string;
  private readonly key: string;

  private constructor(baseUrl: string, key: string) {
    this.baseUrl = baseUrl;
    this.key = key;
  }

  static fromEnvironment(env: NodeJS.ProcessEnv): ApiClient {
    const key = env.FLEETLOG_API_KEY;
    if (!key) throw new UsageError('FLEETLOG_API_KEY is not set: an API key (operator, to apply)');
    return new ApiClient((env.FLEETLOG_API_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, ''), key);
  }

  async request<T>(
    method: string,
    path: string,
    options: { body?: unknown; ifMatch?: number } = {},
  ): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.key}`,
        ...(options.body !== undefined && { 'content-type': 'application/json' }),
        ...(options.ifMatch !== undefined && { 'if-match': `"${options.ifMatch}"` }),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    const body: unknown = text ? JSON.parse(text) : undefined;
    if (!response.ok) throw new ApiError(method, path, response.status, body);
    return body as T;
  }
}

/** Wrong use of the command: said once, without a stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

interface ProblemBody {
  title?: string;
  detail?: string;
  errors?: Array<{ path: string; message: string }>;
}

export class ApiError extends Error {
  readonly status: number;

  constructor(method: string, path: string, status: number, body: unknown) {
    const problem = (body ?? {}) as ProblemBody;
    const details = (problem.errors ?? [])
      .map((error) => `\n  ${error.path || '/'} ${error.message}`)
      .join('');
    super(
      `${method} ${path}: ${status} ${problem.title ?? ''}${problem.detail ? `: ${problem.detail}` : ''}${details}`,
    );
    this.name = 'ApiError';
    this.status = status;
  }
}
