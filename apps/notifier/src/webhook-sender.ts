import { signWebhook } from '@fleetlog/webhooks';

export type DeliveryResult = { delivered: true } | { delivered: false; reason: string };

/**
 * One signed POST. Only a 2xx counts as delivered; redirects are not followed (a redirect could lead anywhere,
 * including inside our own network), and a receiver gets 10 s to answer.
 */
export async function sendWebhook(
  url: string,
  secret: string,
  webhookId: string,
  body: string,
): Promise<DeliveryResult> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
      headers: { 'content-type': 'application/json', ...signWebhook(secret, webhookId, new Date(), body) },
      body,
    });
    await response.body?.cancel();
    return response.ok ? { delivered: true } : { delivered: false, reason: `HTTP ${response.status}` };
  } catch (error) {
    return { delivered: false, reason: (error as Error).message };
  }
}
