export * from './acknowledging-subscriber';
export * from './broker-session';
