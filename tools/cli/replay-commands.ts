import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ApiClient, ApiError, UsageError } from './api-client.ts';
import type { Command, CommandGroup } from './command.ts';
import { readRuleDirectory } from './rule-directory.ts';

interface PartitionProgress {
  partition: number;
  committed?: number;
  end: number;
  lag: number;
}

interface Job {
  version: string;
  state: string;
  previous?: string;
  from?: string;
  rules?: unknown[];
  changedBy: string;
  changedAt: string;
  progress: {
    partitions: PartitionProgress[];
    done: number;
    total: number;
    lag: number;
    eventsPerSecond: number;
    etaSeconds: number | null;
  };
}

interface Counts {
  added: number;
  removed: number;
  changed: number;
}

interface Diff {
  from: string;
  to: string;
  alerts: { from: number; to: number };
  totals: Counts & { unchanged: number };
  byRule: Array<Counts & { ruleId: string }>;
  byVehicle: Array<Counts & { fleetId: string; vehicleId: string }>;
  differences: Array<{
    kind: string;
    ruleId: string;
    fleetId: string;
    vehicleId: string;
    startedAt: string;
    fields?: string[];
  }>;
}

const number = new Intl.NumberFormat('en');
const watchIntervalMs = 2_000;
const barWidth = 30;

function duration(seconds: number | null): string {
  if (seconds === null) return '?';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return h > 0
    ? `${h}h${String(m).padStart(2, '0')}m`
    : m > 0
      ? `${m}m${String(s).padStart(2, '0')}s`
      : `${s}s`;
}

function summary(job: Job): string {
  const { done, total, lag, eventsPerSecond, etaSeconds } = job.progress;
  const share = total === 0 ? 100 : (100 * done) / total;
  return `${job.version} ${job.state}: ${number.format(done)} / ${number.format(total)} events (${share.toFixed(1)}%), ${number.format(eventsPerSecond)} events/s, lag ${number.format(lag)}, ETA ${duration(etaSeconds)}`;
}

function partitionLags(job: Job): string {
  return `  lag per partition: ${job.progress.partitions.map(({ partition, lag }) => `p${partition} ${number.format(lag)}`).join('  ')}`;
}

/** A bar for a terminal: redrawn in place while watching. */
function bar(job: Job): string {
  const { done, total } = job.progress;
  const filled = total === 0 ? barWidth : Math.round((barWidth * done) / total);
  return `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${summary(job)}`;
}

function versionArgument(positionals: string[], usage: string): string {
  const version = positionals[0];
  if (!version) throw new UsageError(`usage: ${usage}`);
  return version;
}

async function status(api: ApiClient, version: string | undefined, watch: boolean): Promise<number> {
  if (!version) {
    const jobs = await api.request<Job[]>('GET', '/replays');
    for (const job of jobs) console.log(summary(job));
    if (jobs.length === 0) console.log('no jobs');
    return 0;
  }
  const tty = Boolean(process.stdout.isTTY);
  let drawn = 0;
  for (;;) {
    const job = await api.request<Job>('GET', `/replays/${version}`);
    const lines = tty ? [bar(job), partitionLags(job)] : [summary(job), partitionLags(job)];
    // Back over the previous drawing and clear it, so the bar stays in place.
    if (drawn > 0) process.stdout.write(`\x1b[${drawn}A\x1b[0J`);
    process.stdout.write(`${lines.join('\n')}\n`);
    drawn = tty ? lines.length : 0;
    if (!watch || job.state !== 'replaying') return 0;
    await sleep(watchIntervalMs);
  }
}

function printDiff(diff: Diff): void {
  const { added, removed, changed, unchanged } = diff.totals;
  console.log(
    `${diff.from} → ${diff.to}: ${diff.alerts.from} → ${diff.alerts.to} alerts; +${added} added, -${removed} removed, ~${changed} changed, ${unchanged} unchanged`,
  );
  const line = (counts: Counts) => `+${counts.added} -${counts.removed} ~${counts.changed}`;
  if (diff.byRule.length > 0) console.log('per rule:');
  for (const rule of diff.byRule) console.log(`  ${rule.ruleId}  ${line(rule)}`);
  if (diff.byVehicle.length > 0) console.log('per vehicle:');
  for (const vehicle of diff.byVehicle)
    console.log(`  ${vehicle.fleetId}/${vehicle.vehicleId}  ${line(vehicle)}`);
  if (diff.differences.length > 0) console.log('first differences:');
  const sign: Record<string, string> = { added: '+', removed: '-', changed: '~' };
  for (const difference of diff.differences) {
    const fields = difference.fields ? ` (${difference.fields.join(', ')})` : '';
    console.log(
      `  ${sign[difference.kind] ?? '?'} ${difference.ruleId} ${difference.fleetId}/${difference.vehicleId} from ${difference.startedAt}${fields}`,
    );
  }
}

const commands: CommandGroup = {
  start: {
    usage: 'fleetlog replay start --version VERSION [--rules DIR] [--from TIMESTAMP]',
    summary:
      "replays the log into VERSION's indices, with the rules of DIR/*.json (default: those of fleet.rules), from TIMESTAMP (default: the start)",
    async run(args) {
      const { values } = parseArgs({
        args,
        options: { version: { type: 'string' }, rules: { type: 'string' }, from: { type: 'string' } },
      });
      if (!values.version) throw new UsageError(`usage: ${commands.start!.usage}`);
      let rules: unknown[] | undefined;
      if (values.rules) {
        const { files, problems } = await readRuleDirectory(values.rules);
        for (const problem of problems)
          console.error(`${problem.source}: ${problem.path || '/'} ${problem.message}`);
        if (problems.length > 0) return 1;
        rules = files.map((file) => file.rule);
      }
      const api = ApiClient.fromEnvironment(process.env);
      const job = await api.request<Job>('POST', '/replays', {
        body: { version: values.version, ...(rules && { rules }), ...(values.from && { from: values.from }) },
      });
      console.log(
        `started ${job.version}: ${job.rules ? `${job.rules.length} rule(s)` : 'the rules of fleet.rules'}, from ${job.from ?? 'the start of the log'}`,
      );
      console.log(summary(job));
      return 0;
    },
  },

  status: {
    usage: 'fleetlog replay status [VERSION] [--watch]',
    summary:
      'every job, or one with its lag per partition; --watch follows it (a progress bar on a terminal) until it is no longer replaying',
    async run(args) {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: { watch: { type: 'boolean', default: false } },
      });
      return status(ApiClient.fromEnvironment(process.env), positionals[0], values.watch);
    },
  },

  promote: {
    usage: 'fleetlog replay promote VERSION [--force]',
    summary:
      'makes VERSION live once it has caught up (--force: whatever its lag); a retired VERSION is a rollback',
    async run(args) {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: { force: { type: 'boolean', default: false } },
      });
      const version = versionArgument(positionals, commands.promote!.usage);
      const promotion = await ApiClient.fromEnvironment(process.env).request<{
        previous: string;
        handover: Record<string, string>;
      }>('POST', `/replays/${version}/promote${values.force ? '?force=true' : ''}`);
      const handover = Object.entries(promotion.handover)
        .map(([partition, offset]) => `p${partition}@${offset}`)
        .join(' ');
      console.log(`${version} is live, ${promotion.previous} retired; handover ${handover}`);
      return 0;
    },
  },

  abort: {
    usage: 'fleetlog replay abort VERSION',
    summary: 'stops a replay; its indices stay until cleanup',
    async run(args) {
      const version = versionArgument(args, commands.abort!.usage);
      await ApiClient.fromEnvironment(process.env).request('POST', `/replays/${version}/abort`);
      console.log(`${version} aborted`);
      return 0;
    },
  },

  cleanup: {
    usage: 'fleetlog replay cleanup VERSION',
    summary: "deletes a retired or aborted VERSION's indices and consumer group offsets",
    async run(args) {
      const version = versionArgument(args, commands.cleanup!.usage);
      const result = await ApiClient.fromEnvironment(process.env).request<{ deletedIndices: string[] }>(
        'DELETE',
        `/replays/${version}/indices`,
      );
      console.log(`${version} cleaned up: deleted ${result.deletedIndices.join(', ') || 'no indices'}`);
      return 0;
    },
  },

  diff: {
    usage: 'fleetlog replay diff A B [--limit N]',
    summary: 'alerts added, removed and changed from version A to B, per rule and per vehicle',
    async run(args) {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: { limit: { type: 'string', default: '20' } },
      });
      const [from, to] = positionals;
      if (!from || !to) throw new UsageError(`usage: ${commands.diff!.usage}`);
      const diff = await ApiClient.fromEnvironment(process.env).request<Diff>(
        'GET',
        `/replays/${from}/diff/${to}?limit=${encodeURIComponent(values.limit)}`,
      );
      printDiff(diff);
      return 0;
    },
  },
};

/** The API's refusals (a lagging replay, a job in use) are the answer, not a crash: said once, exit 1. */
function reportingApiErrors(command: Command): Command {
  return {
    ...command,
    async run(args) {
      try {
        return await command.run(args);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        console.error(error.message);
        return 1;
      }
    },
  };
}

export const replayCommands: CommandGroup = Object.fromEntries(
  Object.entries(commands).map(([name, command]) => [name, reportingApiErrors(command)]),
);
