export * from './health-registry';
export * from './logger';
export * from './ops.module';
export * from './bootstrap';
