/**
 * Puts parked webhook deliveries back to be retried: `npm run webhooks:redrive -- [--target ID] [--since ISO]`.
 * Reads fleet.webhooks.dlq (the latest dead letter of each delivery), and writes each one chosen to
 * fleet.webhooks.retry as due now with a fresh attempt budget; the notifier takes it from there. Uses
 * KAFKA_BROKERS and FLEETLOG_NAMESPACE like the notifier. Re-driving the same delivery twice sends it twice:
 * receivers deduplicate on webhook-id.
 */
import { parseArgs } from 'node:util';
import { loadConfig, notifierEnvSchema } from '../../dist/libs/config/src/index.js';
import {
  topicNames,
  webhookDeliveryKey,
  type WebhookDeadLetter,
  type WebhookDeliveryDue,
} from '../../dist/libs/contracts/src/index.js';
import {
  CompactedTopicTable,
  createIdempotentProducer,
  createKafka,
  ensureTopics,
} from '../../dist/libs/kafka/src/index.js';
import { createLogger } from '../../dist/libs/observability/src/index.js';

const { values: options } = parseArgs({
  options: { target: { type: 'string' }, since: { type: 'string' } },
});
if (options.since !== undefined && Number.isNaN(Date.parse(options.since))) {
  console.error(`--since must be an ISO date-time, got ${options.since}`);
  process.exit(2);
}
const since = options.since === undefined ? undefined : Date.parse(options.since);

const config = loadConfig(notifierEnvSchema);
const logger = createLogger('webhooks-redrive', 'warn');
const topics = topicNames(config.FLEETLOG_NAMESPACE);
const kafka = createKafka(config.KAFKA_BROKERS, 'fleetlog-webhooks-redrive', logger);
await ensureTopics(kafka, topics);

const parked = new CompactedTopicTable<WebhookDeadLetter>(kafka, {
  topic: topics.webhookDeadLetters,
  groupPrefix: `${config.FLEETLOG_NAMESPACE || 'fleetlog'}.webhooks-redrive`,
  decode: (value) => JSON.parse(value.toString('utf8')) as WebhookDeadLetter,
});
await parked.start();
await parked.stop();

const chosen = parked
  .values()
  .filter(
    (letter) =>
      (options.target === undefined || letter.targetId === options.target) &&
      (since === undefined || Date.parse(letter.parkedAt) >= since),
  );
const now = new Date().toISOString();
const producer = createIdempotentProducer(kafka);
await producer.connect();
try {
  if (chosen.length > 0) {
    await producer.send({
      topic: topics.webhookRetries,
      acks: -1,
      messages: chosen.map((letter) => {
        const due: WebhookDeliveryDue = {
          kind: 'due',
          webhookId: letter.webhookId,
          targetId: letter.targetId,
          attempt: 1,
          dueAt: now,
          history: letter.history,
          alert: letter.alert,
        };
        return { key: webhookDeliveryKey(letter.targetId, letter.webhookId), value: JSON.stringify(due) };
      }),
    });
  }
} finally {
  await producer.disconnect();
}
console.log(`re-drove ${chosen.length} parked deliver${chosen.length === 1 ? 'y' : 'ies'}`);
