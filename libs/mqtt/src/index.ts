export * from './acknowledging-subscriber';
