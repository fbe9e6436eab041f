export * from './telemetry-processor';
