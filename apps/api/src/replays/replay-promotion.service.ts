import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import { APP_CONFIG, type ApiConfig } from '@fleetlog/config';
import { pointAliasesAt } from '@fleetlog/elasticsearch';
import { LOGGER } from '@fleetlog/observability';
import { ruleOfRecord, type Rule } from '@fleetlog/rules';
import type { ApiPrincipal } from '../auth/require-role';
import { ApiElasticsearch } from '../elasticsearch';
import { Problem } from '../http/problem';
import { RuleAuditRepository } from '../rules/rule-audit.repository';
import { RulesService } from '../rules/rules.service';
import { RulesTopic } from '../rules/rules-topic';
import { JobOffsets } from './job-offsets';
import { JobsTopic } from './jobs-topic';
import { lagDecision, promotionSubject, ruleAdoption, type RuleStep } from './replay-decisions';
import { ReplaysService } from './replays.service';

export interface Promotion {
  version: string;
  state: 'live';
  previous: string;
  /** Per fleet.telemetry partition, where the previous job stopped: the promoted job notifies from there. */
  handover: Record<string, string>;
  rules: { created: number; updated: number; deleted: number } | null;
}

const stopPollMs = 500;

/** The live job's consumer group did not stop in time. */
class LiveJobStillRunning extends Error {}

/**
 * Makes a job live in place of the live one, in the order that keeps every alert transition notified exactly once:
 * the target is marked promoting (cep stops the live job's pipeline), the live job's group is awaited until it has
 * no members, its committed offsets become the handover, the target's rules go to fleet.rules, the read aliases
 * swap, and the records say who is live and who retired. One promotion at a time per api instance.
 */
@Injectable()
export class ReplayPromotionService {
  private running: Promise<unknown> = Promise.resolve();
  private readonly promotions: Counter<'outcome'>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly jobs: JobsTopic,
    private readonly replays: ReplaysService,
    private readonly offsets: JobOffsets,
    private readonly rules: RulesService,
    private readonly rulesTopic: RulesTopic,
    private readonly ruleAudit: RuleAuditRepository,
    private readonly elasticsearch: ApiElasticsearch,
    metrics: Registry,
  ) {
    this.promotions = new Counter({
      name: 'fleetlog_api_replay_promotions_total',
      help: 'Promotion requests by outcome: promoted, refused (lag), catching_up (a retired job sent back to replay), rolled_back',
      labelNames: ['outcome'],
      registers: [metrics],
    });
  }

  promote(version: string, force: boolean, by: ApiPrincipal): Promise<Promotion> {
    const promotion = this.running.then(() => this.promoteNow(version, force, by));
    this.running = promotion.catch(() => undefined);
    return promotion;
  }

  private async promoteNow(version: string, force: boolean, by: ApiPrincipal): Promise<Promotion> {
    const subject = promotionSubject(version, this.jobs.list());
    if ('status' in subject) throw new Problem(subject.status, subject.title, subject.detail);
    const { target, live } = subject;
    const stamp = () => ({ changedBy: by.name, changedAt: new Date().toISOString() });

    const { lag } = await this.replays.progress(target);
    const maxLag = this.config.REPLAY_PROMOTE_MAX_LAG;
    switch (lagDecision(target, lag, maxLag, force)) {
      case 'refuse':
        this.promotions.inc({ outcome: 'refused' });
        throw new Problem(
          409,
          'Replay lagging',
          `Job ${version} is ${lag} records behind (at most ${maxLag}).`,
          {
            lag,
            maxLag,
          },
        );
      case 'catch-up':
        await this.jobs.put({ ...target, state: 'replaying', previous: live.version, ...stamp() });
        this.promotions.inc({ outcome: 'catching_up' });
        throw new Problem(
          409,
          'Catching up',
          `Job ${version} was retired and is ${lag} records behind: it replays again from its committed offsets; promote it once its lag is at most ${maxLag}.`,
          { lag, maxLag, state: 'replaying' },
        );
      case 'promote':
        break;
    }
    const steps = target.rules ? await this.ruleSteps(version, target.rules) : undefined;

    await this.jobs.put({ ...target, state: 'promoting', ...stamp() });
    let handover: Record<string, string>;
    try {
      await this.untilStopped(live.version);
      handover = await this.handover(live.version);
      if (steps) await this.adopt(steps, `promote ${version}`);
      await pointAliasesAt(this.elasticsearch.client, this.config.FLEETLOG_NAMESPACE, version);
    } catch (error) {
      // The live job resumes once its successor is no longer promoting.
      const state = target.state === 'promoting' ? 'replaying' : target.state;
      await this.jobs.put({ ...target, state, ...stamp() });
      this.promotions.inc({ outcome: 'rolled_back' });
      if (!(error instanceof LiveJobStillRunning)) throw error;
      throw new Problem(503, 'Live job did not stop', `${error.message}: job ${version} is ${state} again.`);
    }
    // The successor first: for a moment both are live, never neither (a cep finding no live job would start one).
    await this.jobs.put({ ...target, state: 'live', handover, previous: live.version, ...stamp() });
    await this.jobs.put({ ...live, state: 'retired', ...stamp() });
    this.promotions.inc({ outcome: 'promoted' });
    this.logger.info({ version, previous: live.version, handover }, 'job promoted');
    return {
      version,
      state: 'live',
      previous: live.version,
      handover,
      rules: steps ? countSteps(steps) : null,
    };
  }

  private async untilStopped(version: string): Promise<void> {
    const deadline = Date.now() + this.config.REPLAY_PROMOTE_STOP_TIMEOUT_MS;
    while (!(await this.offsets.stopped(version))) {
      if (Date.now() >= deadline) {
        throw new LiveJobStillRunning(
          `consumer group ${this.offsets.groupId(version)} still had members after ${this.config.REPLAY_PROMOTE_STOP_TIMEOUT_MS} ms`,
        );
      }
      await sleep(stopPollMs);
    }
  }

  /**
   * The stopped job's committed offsets. A partition it never committed in is left out: it decided nothing there, so
   * everything on it is its successor's to notify.
   */
  private async handover(version: string): Promise<Record<string, string>> {
    const committed = await this.offsets.committed(version);
    return Object.fromEntries(
      [...committed].map(([partition, offset]) => [String(partition), String(offset)]),
    );
  }

  /** Refuses (409, before anything changes) a rule set whose versions fleet.rules has moved past since the start. */
  private async ruleSteps(version: string, documents: unknown[]): Promise<RuleStep[]> {
    const snapshot: Rule[] = documents.map((document, index) => {
      const id = (document as { id?: unknown }).id;
      return ruleOfRecord(`job ${version} rule ${index}`, String(id), { rule: document });
    });
    const latest = new Map(
      await Promise.all(
        snapshot.map(async (rule) => [rule.id, await this.ruleAudit.latestVersion(rule.id)] as const),
      ),
    );
    const current = this.rulesTopic.all().map(({ rule }) => rule);
    const { steps, conflicts } = ruleAdoption(snapshot, current, (ruleId) => latest.get(ruleId) ?? 0);
    if (conflicts.length > 0) {
      throw new Problem(
        409,
        'Rules changed since the replay started',
        `fleet.rules changed ${conflicts.join(', ')} since job ${version} started: its alerts carry other rule versions. Start a new replay.`,
        { rules: conflicts },
      );
    }
    return steps;
  }

  /** Through the rules service, so each change is versioned and in the audit trail like an operator's. */
  private async adopt(steps: readonly RuleStep[], changedBy: string): Promise<void> {
    for (const step of steps) {
      if (step.kind === 'create') await this.rules.create(step.rule, changedBy);
      if (step.kind === 'update') {
        await this.rules.update(step.rule.id, step.rule, String(step.currentVersion), changedBy);
      }
      if (step.kind === 'delete')
        await this.rules.delete(step.ruleId, String(step.currentVersion), changedBy);
    }
  }
}

function countSteps(steps: readonly RuleStep[]): Promotion['rules'] {
  const count = (kind: RuleStep['kind']) => steps.filter((step) => step.kind === kind).length;
  return { created: count('create'), updated: count('update'), deleted: count('delete') };
}
