export * from './backtest';
export * from './checkpoint';
export * from './fact-plan';
export * from './stream-processor';
export * from './vehicle-minute';
export * from './source-time';
