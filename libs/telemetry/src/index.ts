export * from './telemetry-ingest';
export * from './telemetry-topic';
