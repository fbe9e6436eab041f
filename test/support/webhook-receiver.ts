import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  /** When it arrived (ms since the epoch). */
  receivedAt: number;
  /** The status it was answered with; undefined while the answer is held back. */
  answeredWith?: number;
}

/** An operator's HTTP endpoint on loopback that records every request and answers with the status it is told. */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  respondWith = 204;
  /** Statuses to answer first, one per request, before `respondWith` applies. */
  readonly firstAnswers: number[] = [];
  private heldAnswers: Array<() => void> | undefined;
  private server: Server | undefined;
  private port = 0;

  /** A slow receiver: requests are recorded as they arrive, but answered only on `release`. */
  hold(): void {
    this.heldAnswers ??= [];
  }

  release(): void {
    const held = this.heldAnswers ?? [];
    this.heldAnswers = undefined;
    for (const answer of held) answer();
  }

  async start(): Promise<string> {
    this.server = this.createServer();
    await this.listen();
    return `http://127.0.0.1:${this.port}/hooks/fleetlog`;
  }

  /** The endpoint goes away: connections are refused until `comeBack`, as when the operator's server is down. */
  async goDown(): Promise<void> {
    const closed = new Promise((resolve) => this.server?.close(resolve));
    this.server?.closeAllConnections();
    await closed;
  }

  /** Listens again on the same address. */
  async comeBack(): Promise<void> {
    this.server = this.createServer();
    await this.listen();
  }

  private createServer(): Server {
    return createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const received: ReceivedWebhook = {
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          receivedAt: Date.now(),
        };
        this.received.push(received);
        const status = this.firstAnswers.shift() ?? this.respondWith;
        const answer = () => {
          received.answeredWith = status;
          response.writeHead(status).end();
        };
        if (this.heldAnswers) this.heldAnswers.push(answer);
        else answer();
      });
    });
  }

  /** On the port it had, or a free one the first time. */
  private async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    const address = this.server!.address();
    if (typeof address !== 'object' || address === null) throw new Error('receiver has no address');
    this.port = address.port;
  }

  async stop(): Promise<void> {
    this.release();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
