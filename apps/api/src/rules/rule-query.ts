import { z } from 'zod';
import type { Rule } from '@fleetlog/rules';

export const ruleQuerySchema = z.strictObject({
  enabled: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional(),
  severity: z.enum(['info', 'warning', 'critical']).optional(),
  /** Rules that apply to this fleet: those scoped to it and those without a fleet scope. */
  fleet: z.string().min(1).max(64).optional(),
  /** Text in the rule's id or name, case-insensitive. */
  q: z.string().min(1).max(200).optional(),
});

export type RuleQuery = z.infer<typeof ruleQuerySchema>;

export const ruleWriteQuerySchema = z.strictObject({
  /** Writes a rule although its conditions hold for nearly every recent message of nearly every vehicle. */
  acceptBroadMatch: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional(),
});

export type RuleWriteQuery = z.infer<typeof ruleWriteQuerySchema>;

export function matchesQuery(rule: Rule, query: RuleQuery): boolean {
  if (query.enabled !== undefined && rule.enabled !== query.enabled) return false;
  if (query.severity !== undefined && rule.severity !== query.severity) return false;
  if (query.fleet !== undefined && rule.scope?.fleets && !rule.scope.fleets.includes(query.fleet))
    return false;
  if (query.q !== undefined) {
    const text = query.q.toLowerCase();
    if (!rule.id.toLowerCase().includes(text) && !rule.name.toLowerCase().includes(text)) return false;
  }
  return true;
}
