import { createServer } from 'node:http';
import { freePort } from '../../tools/main/app-process.ts';

export interface ReceivedWebhook {
  /** `webhook-id`: the same for every attempt at one delivery. */
  id: string;
  /** The Standard Webhooks body: `type`, `timestamp` (the notifier's clock at the attempt) and the alert. */
  body: { type: string; timestamp: string; data: { alertId: string; ruleId: string; raisedAt: string } };
}

/**
 * A webhook target on loopback that answers 204 to everything and hands each request on once its body is in:
 * what the benches point the notifier at. Signatures are not checked (the notifier's tests prove them).
 */
export async function startWebhookReceiver(
  path: string,
  onWebhook: (webhook: ReceivedWebhook) => void,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      response.writeHead(204).end();
      onWebhook({
        id: String(request.headers['webhook-id']),
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReceivedWebhook['body'],
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}${path}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
