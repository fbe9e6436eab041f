import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { stackOptionsFromEnv, stackUp, type StackOptions } from '../../tools/stack/local-stack.ts';
import { abortOnFailure, stopAtExit } from './exit-cleanup.ts';

/**
 * The local stack up (started if it is not), with what a bench talks to it through: a Kafka client, a connected
 * admin and an Elasticsearch client, closed at exit. A failure from here on aborts the bench with its cleanups.
 */
export async function stackClients(options: StackOptions = stackOptionsFromEnv()) {
  const endpoints = await stackUp(options);
  const kafka = new Kafka({ brokers: [endpoints.kafkaBrokers], logLevel: logLevel.NOTHING });
  const elasticsearch = new Client({ node: endpoints.elasticsearchUrl });
  const admin: Admin = kafka.admin();
  abortOnFailure();
  await admin.connect();
  stopAtExit(() => elasticsearch.close());
  stopAtExit(() => admin.disconnect());
  return { endpoints, kafka, elasticsearch, admin };
}
