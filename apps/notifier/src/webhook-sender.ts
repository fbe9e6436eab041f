import { lookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
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
 * One signed POST. The target's host is resolved and every address vetted first (SSRF guard), and the connection
 * goes to the vetted address itself, so DNS answering differently a moment later (rebinding) cannot redirect it; the
 * Host header and the TLS server name stay the URL's. Only a 2xx counts as delivered; redirects are never followed
 * (a redirect could lead anywhere, including inside our network); the whole attempt, DNS included, has `timeoutMs`.
 */
export async function sendWebhook(
  webhook: WebhookRequest,
  timeoutMs: number,
  resolveHost: HostResolver = systemResolver,
): Promise<AttemptResult> {
  const signal = AbortSignal.timeout(timeoutMs);
  const url = new URL(webhook.url);
  const host = hostOf(url);
  try {
    const verdict = vetAddresses(host, await resolve(resolveHost, host, signal), webhook.allowPrivateNetwork);
    if (!verdict.allowed) return { outcome: 'refused', error: verdict.reason };
    const response = await post(url, verdict.address, webhook, signal);
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
    // A fresh connection per attempt: a pooled socket would skip the vetting of this attempt's resolution.
    agent: false,
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
    request.on('error', fail);
    request.end(webhook.body);
  });
}
