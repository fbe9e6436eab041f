import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import { z } from 'zod';
import type { RuleRecord } from '@fleetlog/contracts';
import { TableReadBackTimeout } from '@fleetlog/kafka';
import { LOGGER } from '@fleetlog/observability';
import { diffJson, validateRule, vocabularyProblems, type Rule } from '@fleetlog/rules';
import { Problem } from '../http/problem';
import {
  RuleAuditRepository,
  VersionTakenError,
  type RuleAction,
  type RuleAuditEntry,
} from './rule-audit.repository';
import { matchesQuery, type RuleQuery } from './rule-query';
import { RulesTopic, type CurrentRule } from './rules-topic';
import { WebhookTargetsTopic } from '../webhook-targets/webhook-targets.topic';
import { BroadRuleGuard } from './broad-rule-guard';

/** A rule as a client sends it: checked in full by validateRule, for the JSON path of every problem. */
export const ruleDocumentSchema = z.looseObject({}).meta({
  description:
    'A rule, as in docs/rule.v1.schema.json. The api assigns versions; on PUT, `version` may name the version changed instead of If-Match.',
});

export type RuleDocument = z.infer<typeof ruleDocumentSchema>;

export interface RuleWithHistory extends CurrentRule {
  history: RuleAuditEntry[];
}

export interface RuleWriteOptions {
  /** Refuse a rule that holds for nearly every recent message of nearly every vehicle (see BroadRuleGuard). */
  refuseBroadMatch?: boolean;
  /**
   * Refuse a rule whose actions name a webhook target that does not exist. Operators' writes ask for it; a
   * promotion does not: a half-applied promotion is worse than an action naming a missing target, which the
   * notifier skips (as it does for a target deleted after the rule was written).
   */
  refuseUnknownTargets?: boolean;
}

/**
 * How long a claimed version may go without its record before another writer counts it as interrupted (its writer
 * died between the audit document and the record) and publishes it. Longer than the api's producer can take over
 * one send, retries included (6 attempts of at most 30 s), so the original writer can no longer land it late.
 */
const interruptedWriteAfterMs = 10 * 60_000;

/**
 * Rules as operators change them. Every change is a new version: first its audit document `ruleId@version` is
 * created in Elasticsearch, which only one writer of that version can do (the lock against lost updates, across
 * api instances), then its record goes to fleet.rules, where cep picks it up.
 */
@Injectable()
export class RulesService {
  private readonly changes: Counter<'action' | 'outcome'>;

  constructor(
    private readonly topic: RulesTopic,
    private readonly audit: RuleAuditRepository,
    private readonly broadRules: BroadRuleGuard,
    private readonly webhookTargets: WebhookTargetsTopic,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: Registry,
  ) {
    this.changes = new Counter({
      name: 'fleetlog_api_rule_changes_total',
      help: 'Rule changes by action: written, lost to a concurrent writer of the same version, or failed',
      labelNames: ['action', 'outcome'],
      registers: [metrics],
    });
  }

  list(query: RuleQuery): CurrentRule[] {
    return this.topic.all().filter(({ rule }) => matchesQuery(rule, query));
  }

  async get(ruleId: string): Promise<RuleWithHistory> {
    const current = this.current(ruleId);
    return { ...current, history: await this.audit.history(ruleId) };
  }

  /** The rule as it stands, if any: the baseline a dry run compares with. */
  find(ruleId: string): CurrentRule | undefined {
    return this.topic.get(ruleId);
  }

  async create(draft: RuleDocument, changedBy: string, options: RuleWriteOptions = {}): Promise<CurrentRule> {
    const ruleId = typeof draft.id === 'string' ? draft.id : undefined;
    if (ruleId !== undefined && this.topic.get(ruleId)) {
      throw new Problem(409, 'Rule exists', `Rule ${ruleId} exists: change it with PUT /rules/${ruleId}.`);
    }
    // Versions go on across a delete, so a re-created rule never reuses a version (nor an alert id).
    const version = ruleId === undefined ? 1 : (await this.audit.latestVersion(ruleId)) + 1;
    const rule = validRule({ ...draft, version });
    if (options.refuseUnknownTargets) this.refuseUnknownTargets(rule);
    if (options.refuseBroadMatch) await this.broadRules.refuseIfBroad(rule);
    return this.save('create', undefined, rule, changedBy);
  }

  /** The change names the version it was made to: If-Match, else the body's `version`. */
  async update(
    ruleId: string,
    draft: RuleDocument,
    ifMatch: string | undefined,
    changedBy: string,
    options: RuleWriteOptions = {},
  ): Promise<CurrentRule> {
    const expected = parseIfMatch(ifMatch) ?? (typeof draft.version === 'number' ? draft.version : undefined);
    if (expected === undefined) {
      throw new Problem(
        428,
        'Precondition required',
        'Say which version you changed: the If-Match header or the rule\'s "version".',
      );
    }
    const current = this.currentAt(ruleId, expected);
    const rule = validRule({ ...draft, version: current.rule.version + 1 });
    if (rule.id !== ruleId) {
      throw invalidRule([{ path: '/id', message: `must be "${ruleId}", the id in the URL` }]);
    }
    if (sameContent(current.rule, rule)) return current;
    if (options.refuseUnknownTargets) this.refuseUnknownTargets(rule);
    if (options.refuseBroadMatch) await this.broadRules.refuseIfBroad(rule);
    return this.save('update', current.rule, rule, changedBy);
  }

  async setEnabled(
    ruleId: string,
    enabled: boolean,
    ifMatch: string | undefined,
    changedBy: string,
  ): Promise<CurrentRule> {
    const current = this.currentAt(ruleId, parseIfMatch(ifMatch));
    if (current.rule.enabled === enabled) return current;
    const rule = { ...current.rule, enabled, version: current.rule.version + 1 };
    return this.save(enabled ? 'enable' : 'disable', current.rule, rule, changedBy);
  }

  async delete(ruleId: string, ifMatch: string | undefined, changedBy: string): Promise<void> {
    const current = this.currentAt(ruleId, parseIfMatch(ifMatch));
    const deletion: RuleAuditEntry = {
      ruleId,
      version: current.rule.version + 1,
      action: 'delete',
      changedBy,
      changedAt: new Date().toISOString(),
      rule: null,
      diff: diffJson(withoutVersion(current.rule), undefined),
    };
    await this.commit(deletion, null);
  }

  private current(ruleId: string): CurrentRule {
    const current = this.topic.get(ruleId);
    if (!current) throw new Problem(404, 'No such rule', `There is no rule ${ruleId}.`);
    return current;
  }

  private currentAt(ruleId: string, expected: number | undefined): CurrentRule {
    const current = this.current(ruleId);
    if (expected !== undefined && expected !== current.rule.version) throw staleVersion(current, expected);
    return current;
  }

  /** A rule's actions name existing targets only: a mistyped id would send its alerts nowhere. */
  private refuseUnknownTargets(rule: Rule): void {
    const problems = (rule.actions ?? []).flatMap(({ target }, index) =>
      this.webhookTargets.get(target)
        ? []
        : [{ path: `/actions/${index}/target`, message: `there is no webhook target ${target}` }],
    );
    if (problems.length > 0) throw invalidRule(problems);
  }

  private async save(
    action: RuleAction,
    previous: Rule | undefined,
    rule: Rule,
    changedBy: string,
  ): Promise<CurrentRule> {
    const current = { rule, changedBy, changedAt: new Date().toISOString() };
    await this.commit(
      {
        ruleId: rule.id,
        version: rule.version,
        action,
        changedBy,
        changedAt: current.changedAt,
        rule,
        diff: diffJson(withoutVersion(previous), withoutVersion(rule)),
      },
      current,
    );
    return current;
  }

  /** Claims the version in the audit trail, then publishes the record (null: a tombstone). */
  private async commit(entry: RuleAuditEntry, record: RuleRecord | null): Promise<void> {
    const { ruleId, version, action } = entry;
    try {
      await this.audit.claim(entry);
    } catch (error) {
      if (!(error instanceof VersionTakenError)) throw error;
      this.changes.inc({ action, outcome: 'conflict' });
      await this.finishInterruptedWrite(ruleId, version);
      throw new Problem(
        409,
        'Version conflict',
        `Rule ${ruleId} was changed at the same time (version ${version} is taken): read it again and reapply.`,
      );
    }
    try {
      await this.topic.publish(ruleId, record);
    } catch (error) {
      if (!(error instanceof TableReadBackTimeout)) return this.abandon(entry, error);
      // The record is in Kafka, only not read back in time: the change is made.
      this.logger.warn({ err: error, ruleId }, 'rule change not read back in time');
    }
    this.changes.inc({ action, outcome: 'written' });
  }

  /** The record could not be published: the claim is withdrawn, so the version stays free and nothing changed. */
  private async abandon({ ruleId, version, action }: RuleAuditEntry, error: unknown): Promise<never> {
    this.logger.error({ err: error, ruleId, version }, 'publishing a rule change failed');
    this.changes.inc({ action, outcome: 'failed' });
    await this.audit
      .release(ruleId, version)
      .catch((releaseError: unknown) =>
        this.logger.error({ err: releaseError, ruleId, version }, 'claim of a failed rule change kept'),
      );
    throw new Problem(503, 'Kafka unavailable', 'The rule was not changed; try again.');
  }

  /**
   * A version claimed in the audit trail whose record never reached fleet.rules, long after, is a write whose api
   * instance died between the two steps: it is finished from its audit document (the intent is recorded in full),
   * so the rule can move on. Only the newest claim qualifies, and only once its writer can no longer publish it.
   */
  private async finishInterruptedWrite(ruleId: string, version: number): Promise<void> {
    const entry = await this.audit.find(ruleId, version);
    if (!entry || Date.now() - Date.parse(entry.changedAt) < interruptedWriteAfterMs) return;
    if ((await this.audit.latestVersion(ruleId)) !== version) return;
    const live = this.topic.get(ruleId);
    const published =
      entry.rule === null ? !live || live.rule.version > version : (live?.rule.version ?? 0) >= version;
    if (published) return;
    this.logger.warn({ ruleId, version, changedBy: entry.changedBy }, 'finishing an interrupted rule write');
    await this.topic.publish(
      ruleId,
      entry.rule && { rule: entry.rule, changedBy: entry.changedBy, changedAt: entry.changedAt },
    );
  }
}

function invalidRule(problems: Array<{ path: string; message: string }>, prefix = ''): Problem {
  return new Problem(422, 'Invalid rule', `${problems.length} problem(s) with the rule`, {
    errors: problems.map(({ path, message }) => ({ in: 'body', path: `${prefix}${path}`, message })),
  });
}

/**
 * Validates a rule document, answering 422 with every problem's JSON path (under `prefix` in the body): its shape,
 * then whether its facts exist and its values have their types.
 */
export function validRule(document: unknown, prefix = ''): Rule {
  const validation = validateRule(document);
  if (!validation.valid) throw invalidRule(validation.problems, prefix);
  const problems = vocabularyProblems(validation.rule);
  if (problems.length > 0) throw invalidRule(problems, prefix);
  return validation.rule;
}

/** `3`, `"3"` or `W/"3"`: the version an ETag names. */
function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = /^(?:W\/)?"?(\d+)"?$/.exec(header.trim());
  if (!match) throw new Problem(400, 'Bad If-Match', 'If-Match must name a rule version, e.g. "3".');
  return Number(match[1]);
}

function staleVersion(current: CurrentRule, expected: number): Problem {
  return new Problem(
    409,
    'Version conflict',
    `You changed version ${expected} of rule ${current.rule.id}, but it is at version ${current.rule.version} (by ${current.changedBy}): read it again and reapply.`,
    { currentVersion: current.rule.version },
  );
}

/** Every version differs in its number: what changed is the rest. */
function withoutVersion(rule: Rule | undefined): Record<string, unknown> | undefined {
  return rule && Object.fromEntries(Object.entries(rule).filter(([key]) => key !== 'version'));
}

function sameContent(a: Rule, b: Rule): boolean {
  return diffJson(withoutVersion(a), withoutVersion(b)).length === 0;
}
