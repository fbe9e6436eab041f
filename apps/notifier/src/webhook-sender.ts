import { lookup, type LookupAddress } from 'node:dns';
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { hostOf, signWebhook, vetAddresses, type ResolvedAddress } from '@fleetlog/webhooks';

export interface WebhookRequest {
  url: string;
  secret: string;
  allowPrivateNetwork: boolean;
  webhookId: string;
  body: string;
}

export type AttemptResult =
  | { outcome: 'delivered'; httpStatus: number }
  | { outcome: 'failed'; httpStatus?: number; error: string }
  | { outcome: 'refused'; error: string };

/**
 * Signed POSTs to webhook targets. Each attempt resolves the target's host and vets every address first (SSRF guard),
 * and its request goes to the vetted address itself, so DNS answering differently a moment later (rebinding) cannot
 * redirect it; the Host header and the TLS server name stay the URL's. Connections are kept alive per target origin
 * and vetted address: a later attempt reuses one only if its own resolution vetted the same address, so a kept
 * connection never leads anywhere the guard would refuse now, and a busy target costs no TCP and TLS handshake per
 * webhook (a new connection per attempt was an eighth of the notifier's CPU in an alert storm on loopback; over the
 * internet a TLS handshake costs more round trips than the request). Only a 2xx counts as delivered; redirects are
 * never followed (a redirect could lead anywhere, including inside our network); the whole attempt, DNS included,
 * has `timeoutMs`.
 */
export class WebhookSender {
  private readonly agents = new Map<string, HttpAgent>();

  constructor(private readonly resolveHost: HostResolver = systemResolver) {}

  async send(webhook: WebhookRequest, timeoutMs: number): Promise<AttemptResult> {
    const signal = AbortSignal.timeout(timeoutMs);
    const url = new URL(webhook.url);
    const host = hostOf(url);
    try {
      const verdict = vetAddresses(
        host,
        await resolve(this.resolveHost, host, signal),
        webhook.allowPrivateNetwork,
      );
      if (!verdict.allowed) return { outcome: 'refused', error: verdict.reason };
      const agent = this.agentFor(url, verdict.address);
      const response = await post(url, verdict.address, agent, webhook, signal).catch((error: unknown) => {
        if (!(error instanceof StaleConnection)) throw error;
        return post(url, verdict.address, agent, webhook, signal);
      });
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300) return { outcome: 'delivered', httpStatus: status };
      const redirect = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
      return { outcome: 'failed', httpStatus: status, error: `HTTP ${status}${redirect}` };
    } catch (error) {
      return {
        outcome: 'failed',
        error: signal.aborted ? `timed out after ${timeoutMs} ms` : (error as Error).message,
      };
    }
  }

  /** Closes every kept connection. */
  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  private agentFor(url: URL, vetted: ResolvedAddress): HttpAgent {
    const key = `${url.protocol}//${url.host} ${vetted.address}`;
    let agent = this.agents.get(key);
    if (agent) return agent;
    // Targets whose DNS rotates through many addresses leave agents behind; those without connections go.
    if (this.agents.size >= maxAgents)
      for (const [name, idle] of this.agents)
        if (Object.keys(idle.sockets).length === 0 && Object.keys(idle.freeSockets).length === 0) {
          idle.destroy();
          this.agents.delete(name);
        }
    // Idle connections close before a receiver's own keep-alive timeout would (Node's default is 5 s), which makes
    // a request on a connection the receiver is closing rare; `StaleConnection` covers the rest.
    const options = { keepAlive: true, timeout: idleConnectionMs };
    agent = url.protocol === 'https:' ? new HttpsAgent(options) : new HttpAgent(options);
    this.agents.set(key, agent);
    return agent;
  }
}

const idleConnectionMs = 4_000;
const maxAgents = 1_024;

/** The receiver closed a kept-alive connection as the request went out on it: it never got the request. */
class StaleConnection extends Error {}

/** Every address a host name stands for; asked once per attempt, before the connection. */
export type HostResolver = (host: string) => Promise<ResolvedAddress[]>;

const systemResolver: HostResolver = (host) =>
  new Promise<LookupAddress[]>((done, fail) =>
    lookup(host, { all: true, verbatim: true }, (error, found) => (error ? fail(error) : done(found))),
  );

async function resolve(
  resolveHost: HostResolver,
  host: string,
  signal: AbortSignal,
): Promise<ResolvedAddress[]> {
  const addresses = resolveHost(host);
  const aborted = new Promise<never>((_, fail) =>
    signal.addEventListener('abort', () => fail(new Error('DNS lookup timed out')), { once: true }),
  );
  return Promise.race([addresses, aborted]);
}

function post(
  url: URL,
  vetted: ResolvedAddress,
  agent: HttpAgent,
  webhook: WebhookRequest,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  // Whatever the socket asks for, it gets the vetted address and nothing else.
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, [vetted]);
    else callback(null, vetted.address, vetted.family);
  };
  const options: RequestOptions = {
    method: 'POST',
    lookup,
    signal,
    agent,
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(webhook.body),
      'user-agent': 'fleetlog-notifier',
      ...signWebhook(webhook.secret, webhook.webhookId, new Date(), webhook.body),
    },
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((done, fail) => {
    const request = send(url, options, (response) => {
      // Only the status matters: the body is drained unread, so a receiver cannot make us buffer megabytes.
      response.resume();
      done(response);
    });
    request.on('error', (error: NodeJS.ErrnoException) =>
      fail(request.reusedSocket && error.code === 'ECONNRESET' ? new StaleConnection(error.message) : error),
    );
    request.end(webhook.body);
  });
}
