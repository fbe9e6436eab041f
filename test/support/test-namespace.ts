import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';

/** Set by the global setup of a jest run (see `startTestRun`) and inherited by its workers. */
const runVariable = 'FLEETLOG_TEST_RUN';

/**
 * Names this run before any spec: each spec's namespace carries it, so that the run's teardown can delete every
 * topic the run made, and none of a run beside it on the same broker.
 */
export function startTestRun(env: NodeJS.ProcessEnv): string {
  env[runVariable] ??= randomBytes(3).toString('hex');
  return env[runVariable];
}

/**
 * A fresh prefix for one spec's topics, consumer groups and indices: `<purpose>-<run>-<random>`, lower case so that
 * Elasticsearch takes it as an index name too.
 */
export function testNamespace(purpose: string): string {
  const run = process.env[runVariable];
  if (!run)
    throw new Error(`${runVariable} is not set: testNamespace is for specs run by the jest global setup`);
  return `${purpose}-${run}-${randomBytes(4).toString('hex')}`;
}

/**
 * Deletes the topics this run's namespaces left on the broker. Specs keep theirs until the end, when no app can still
 * be committing to them; without this, every run left a few dozen behind, and after days of runs the broker spent
 * most of its start loading thousands of partitions. Returns how many it deleted.
 */
export async function deleteTestRunTopics(brokers: string, run: string): Promise<number> {
  const ofRun = new RegExp(`^[a-z]+-${run}-`);
  return deleteTopicsWhere(brokers, (topic) => ofRun.test(topic));
}

/**
 * Deletes the broker's topics that `matches` picks; returns how many. Here rather than beside the namespace clean-up:
 * the global teardown loads this file without the `@fleetlog/*` path mapping the specs have.
 */
export async function deleteTopicsWhere(
  brokers: string,
  matches: (topic: string) => boolean,
): Promise<number> {
  const admin = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter(matches);
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 60_000 });
    return topics.length;
  } finally {
    await admin.disconnect();
  }
}
