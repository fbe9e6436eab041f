export * from './topics/topic-names';
export * from './topics/fleet.telemetry/telemetry-message';
export * from './topics/fleet.telemetry.dlq/telemetry-dead-letter';
export * from './topics/fleet.alerts/alert-message';
export * from './topics/fleet.webhooks.dlq/webhook-dead-letter';
export * from './topics/fleet.documents.dlq/document-dead-letter';
export * from './topics/fleet.rules/rule-record';
export * from './topics/fleet.webhooks.targets/webhook-target';
export { default as telemetryMessageSchema } from './topics/fleet.telemetry/telemetry-message.v1.schema.json';
