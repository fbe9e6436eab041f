import { Inject, Injectable } from '@nestjs/common';
import { errors } from '@elastic/elasticsearch';
import { compareAlerts } from '@fleetlog/cep';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import type { JobRecord } from '@fleetlog/contracts';
import { deleteJobIndices } from '@fleetlog/elasticsearch';
import { checkRuleDocuments, type Rule } from '@fleetlog/rules';
import type { ApiPrincipal } from '../auth/require-role';
import { ApiElasticsearch } from '../elasticsearch';
import { Problem } from '../http/problem';
import { RuleAuditRepository } from '../rules/rule-audit.repository';
import { RulesTopic } from '../rules/rules-topic';
import { GroupNotEmptyError, JobOffsets } from './job-offsets';
import { JobAlertsRepository, MissingAlertIndexError, TooManyAlertsError } from './job-alerts.repository';
import { JobsTopic } from './jobs-topic';
import { versionRuleSet } from './replay-decisions';
import { summarizeDiff, type ReplayDiff } from './replay-diff';
import { ProgressSamples, replayProgress, type ReplayProgress } from './replay-progress';

export interface StartReplay {
  version: string;
  /** Rule documents; absent, the replay follows fleet.rules. */
  rules?: Array<Record<string, unknown>>;
  from?: string;
}

export interface JobView extends JobRecord {
  progress: ReplayProgress;
}

/**
 * Replay jobs as operators run them: start one (a record on fleet.jobs, which every cep instance acts on), follow its
 * progress from its consumer group's offsets, abort it, compare its alerts with another version's, and clean up a
 * version no longer needed. Promotion is ReplayPromotionService's.
 */
@Injectable()
export class ReplaysService {
  private readonly samples = new ProgressSamples();

  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    private readonly jobs: JobsTopic,
    private readonly offsets: JobOffsets,
    private readonly alerts: JobAlertsRepository,
    private readonly rulesTopic: RulesTopic,
    private readonly ruleAudit: RuleAuditRepository,
    private readonly elasticsearch: ApiElasticsearch,
  ) {}

  async list(): Promise<JobView[]> {
    return Promise.all(this.jobs.list().map((job) => this.view(job)));
  }

  async get(version: string): Promise<JobView> {
    return this.view(this.existing(version));
  }

  async start(request: StartReplay, by: ApiPrincipal): Promise<JobView> {
    if (this.jobs.get(request.version)) {
      throw new Problem(409, 'Job exists', `Job ${request.version} exists: pick another version.`);
    }
    const rules = request.rules && (await this.versionedRules(request.rules));
    const live = this.jobs.list().find((job) => job.state === 'live');
    const job: JobRecord = {
      version: request.version,
      state: 'replaying',
      ...(rules && { rules }),
      ...(request.from && { from: new Date(request.from).toISOString() }),
      ...(live && { previous: live.version }),
      changedBy: by.name,
      changedAt: new Date().toISOString(),
    };
    await this.jobs.put(job);
    return this.view(job);
  }

  async abort(version: string, by: ApiPrincipal): Promise<JobRecord> {
    const job = this.existing(version);
    if (job.state !== 'replaying') {
      throw new Problem(
        409,
        'Not replaying',
        `Job ${version} is ${job.state}: only a replay can be aborted.`,
      );
    }
    const aborted: JobRecord = {
      ...job,
      state: 'aborted',
      changedBy: by.name,
      changedAt: new Date().toISOString(),
    };
    await this.jobs.put(aborted);
    return aborted;
  }

  /**
   * Deletes a retired or aborted version: its consumer group first (refused while an instance still runs it), then
   * its indices, then its record, so that the version may be started again from scratch.
   */
  async cleanup(version: string): Promise<{ version: string; deletedIndices: string[] }> {
    const job = this.existing(version);
    if (job.state !== 'retired' && job.state !== 'aborted') {
      throw new Problem(
        409,
        'Job in use',
        `Job ${version} is ${job.state}: only a retired or aborted job's indices can be deleted.`,
      );
    }
    try {
      await this.offsets.deleteGroup(version);
    } catch (error) {
      if (!(error instanceof GroupNotEmptyError)) throw error;
      throw new Problem(
        409,
        'Job still running',
        `${error.message}: retry once cep has stopped job ${version}.`,
      );
    }
    let deletedIndices: string[];
    try {
      deletedIndices = await deleteJobIndices(
        this.elasticsearch.client,
        this.config.FLEETLOG_NAMESPACE,
        version,
      );
    } catch (error) {
      // deleteJobIndices refuses an index behind a read alias; Elasticsearch's own failures are not the caller's.
      if (error instanceof errors.ElasticsearchClientError) throw error;
      throw new Problem(409, 'Indices in use', (error as Error).message);
    }
    await this.jobs.delete(version);
    this.samples.forget(version);
    return { version, deletedIndices };
  }

  async diff(from: string, to: string, maxDifferences: number): Promise<ReplayDiff> {
    const [before, after] = await Promise.all([this.versionAlerts(from), this.versionAlerts(to)]);
    return summarizeDiff(
      { from, to },
      { from: before.length, to: after.length },
      compareAlerts(before, after),
      maxDifferences,
    );
  }

  /** The job's progress, its rate measured against what this instance saw a few seconds ago. */
  async progress(job: JobRecord): Promise<ReplayProgress> {
    const offsets = await this.offsets.partitions(job.version, job.from);
    const now = Date.now();
    const first = replayProgress(offsets, now, undefined, Date.parse(job.changedAt));
    const earlier = this.samples.take(job.version, { at: now, done: first.done });
    return earlier ? replayProgress(offsets, now, earlier, Date.parse(job.changedAt)) : first;
  }

  existing(version: string): JobRecord {
    const job = this.jobs.get(version);
    if (!job) throw new Problem(404, 'No such job', `There is no job ${version}.`);
    return job;
  }

  private async view(job: JobRecord): Promise<JobView> {
    return { ...job, progress: await this.progress(job) };
  }

  /**
   * Validates every rule (422 naming `/rules/<i>/...` for each problem, ids used twice included) and fixes their
   * versions as applying them now would.
   */
  private async versionedRules(documents: Array<Record<string, unknown>>): Promise<Rule[]> {
    const { rules, problems } = checkRuleDocuments(
      documents.map((document, index) => ({ source: `/rules/${index}`, text: JSON.stringify(document) })),
      { defaultVersion: 1 },
    );
    if (problems.length > 0) {
      throw new Problem(422, 'Invalid rules', `${problems.length} problem(s) with the rules`, {
        errors: problems.map(({ source, path, message }) => ({
          in: 'body',
          path: `${source}${path}`,
          message,
        })),
      });
    }
    const latest = new Map(
      await Promise.all(
        rules.map(async ({ rule }) => [rule.id, await this.ruleAudit.latestVersion(rule.id)] as const),
      ),
    );
    return versionRuleSet(
      rules.map(({ rule }) => rule),
      (ruleId) => ({ current: this.rulesTopic.get(ruleId)?.rule, latestVersion: latest.get(ruleId) ?? 0 }),
    );
  }

  private async versionAlerts(version: string) {
    try {
      return await this.alerts.all(version, this.config.REPLAY_DIFF_MAX_ALERTS);
    } catch (error) {
      if (error instanceof MissingAlertIndexError) {
        throw new Problem(404, 'No alerts index', `Version ${version} has no alert index (${error.index}).`);
      }
      if (error instanceof TooManyAlertsError) {
        throw new Problem(422, 'Too many alerts', `${error.message} (REPLAY_DIFF_MAX_ALERTS).`);
      }
      throw error;
    }
  }
}
