export * from './batch-consumer';
export * from './batching-publisher';
export * from './kafka-client';
export * from './topics';
export * from './compacted-topic-table';
export * from './renewable-producer';
export * from './produce-size';
export * from './record-positions';
