export * from './record-indices';
export * from './bulk-writer';
export * from './index-provisioning';
export * from './index-templates';
export * from './readiness';
