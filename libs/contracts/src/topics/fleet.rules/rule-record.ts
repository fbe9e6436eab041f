/**
 * The value of a fleet.rules record. The topic is compacted and keyed by rule id: the newest record of a key is the
 * rule as it stands, a tombstone (null value) deletes it. cep applies every record as it arrives; the version
 * history and who changed what live in the audit index, not here.
 */
export interface RuleRecord {
  /** The rule envelope as JSON (docs/rule.v1.schema.json), already validated by its writer; readers validate again. */
  rule: unknown;
  /** Who wrote this version: an API key's name, or `rules/` for the files applied at first start. */
  changedBy: string;
  changedAt: string;
}
