import { mkdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppName } from '../../tools/main/app-process';
import { localStackPid, restartMissingStackServers } from '../support/local-stack-control';
import { FaultRun, type FaultOutcome } from './fault-run';

/**
 * The fault suite (`npm run test:faults`, on the local stack): under steady traffic from 20 vehicles at 10 Hz, each
 * fault in turn on a pipeline of its own, then everything counted end to end. Zero loss and zero duplicate alerts
 * are asserted; the recovery times are measured and written to bench-results/faults.{json,md}.
 */
interface Fault {
  name: string;
  /** Starts the fault; `repair` ends it after `lastsMs`. */
  inject(run: FaultRun): Promise<unknown>;
  repair(run: FaultRun): Promise<unknown>;
  lastsMs: number;
}

const webhookOutageMs = Number(process.env.FAULT_WEBHOOK_OUTAGE_S ?? 120) * 1_000;

const serverKilled = (service: 'kafka' | 'elasticsearch' | 'mosquitto', lastsMs: number): Fault => ({
  name: `${service} SIGKILLed, restarted ${lastsMs / 1_000} s later`,
  inject: async () => process.kill(await localStackPid(service), 'SIGKILL'),
  repair: () => restartMissingStackServers(),
  lastsMs,
});

const appKilled = (app: AppName): Fault => ({
  name: `${app} SIGKILLed and restarted`,
  inject: (run) => run.kill(app),
  repair: (run) => run.launch(app),
  lastsMs: 0,
});

const faults: Fault[] = [
  serverKilled('kafka', 15_000),
  serverKilled('elasticsearch', 15_000),
  serverKilled('mosquitto', 10_000),
  appKilled('gateway'),
  appKilled('cep'),
  appKilled('notifier'),
  {
    name: 'Elasticsearch refuses writes (read-only index block) for 60 s',
    inject: (run) => run.blockWrites(true),
    repair: (run) => run.blockWrites(false),
    lastsMs: 60_000,
  },
  {
    name: `webhook endpoint down for ${webhookOutageMs / 60_000} min`,
    inject: (run) => run.receiver.goDown(),
    repair: (run) => run.receiver.comeBack(),
    lastsMs: webhookOutageMs,
  },
];

describe('fault suite', () => {
  const outcomes: FaultOutcome[] = [];

  afterAll(() => {
    if (outcomes.length === 0) return;
    mkdirSync('bench-results', { recursive: true });
    writeFileSync('bench-results/faults.json', `${JSON.stringify(outcomes, null, 2)}\n`);
    writeFileSync('bench-results/faults.md', faultTable(outcomes));
    process.stdout.write(`\n${faultTable(outcomes)}\n(bench-results/faults.json, bench-results/faults.md)\n`);
  });

  it.each(faults.map((fault) => [fault.name, fault] as const))(
    '%s: loses no acknowledged reading, duplicates no alert, delivers every webhook',
    async (_name, fault) => {
      const run = new FaultRun(fault.name);
      try {
        await run.start();
        run.faultStarts();
        await fault.inject(run);
        await sleep(fault.lastsMs);
        run.repaired();
        await fault.repair(run);
        const outcome = await run.finish();
        outcomes.push(outcome);
        const losses = {
          missingFromKafka: outcome.kafka.missing,
          missingFromElasticsearch: outcome.telemetry.missing,
          alertsMissing: outcome.alerts.missing,
          alertsUnexpected: outcome.alerts.unexpected,
          duplicateAlertDocuments: outcome.alerts.duplicates,
          webhooksMissing: outcome.webhooks.missing,
        };
        const recovered = outcome.searchableAgainS !== null && outcome.webhooksCaughtUpS !== null;
        if (!recovered || Object.values(losses).some((count) => count !== 0)) {
          const kept = `bench-results/faults-${fault.name.replace(/\W+/g, '-')}.log`;
          run.keepOutput(kept);
          process.stdout.write(`${fault.name} (all app output in ${kept}):\n${run.recentOutput()}\n`);
        }
        expect(losses).toEqual({
          missingFromKafka: 0,
          missingFromElasticsearch: 0,
          alertsMissing: 0,
          alertsUnexpected: 0,
          duplicateAlertDocuments: 0,
          webhooksMissing: 0,
        });
        expect(outcome.acknowledged).toBeGreaterThan(5_000);
        expect(outcome.alerts.expected).toBeGreaterThan(50);
        expect(outcome.searchableAgainS).not.toBeNull();
      } finally {
        await run.close();
      }
    },
    20 * 60_000,
  );
});

function faultTable(rows: readonly FaultOutcome[]): string {
  const header = [
    'Fault',
    'Acked',
    'Kafka (missing / dup)',
    'ES telemetry (missing / dup)',
    'Alerts expected / indexed (missing / dup)',
    'Webhooks (missing / redelivered)',
    'Searchable again',
    'Webhooks caught up',
    'Restarted by supervisor',
  ];
  const lines = rows.map((row) => [
    row.fault,
    String(row.acknowledged),
    `${row.kafka.records} (${row.kafka.missing} / ${row.kafka.duplicates})`,
    `${row.telemetry.documents} (${row.telemetry.missing} / ${row.telemetry.duplicates})`,
    `${row.alerts.expected} / ${row.alerts.indexed} (${row.alerts.missing} / ${row.alerts.duplicates})`,
    `${row.webhooks.delivered} (${row.webhooks.missing} / ${row.webhooks.redelivered})`,
    row.searchableAgainS === null ? 'never' : `${row.searchableAgainS} s`,
    row.webhooksCaughtUpS === null ? 'never' : `${row.webhooksCaughtUpS} s`,
    row.supervisorRestarts.join(', ') || '–',
  ]);
  return (
    [header, header.map(() => '---'), ...lines].map((cells) => `| ${cells.join(' | ')} |`).join('\n') + '\n'
  );
}
