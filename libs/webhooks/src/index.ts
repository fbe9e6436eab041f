export * from './address-policy';
export * from './delivery-ledger';
export * from './retry-schedule';
export * from './standard-webhooks';
export * from './target-filters';
