export * from './alert-tracker';
export * from './compiled-evaluator';
export * from './condition-evaluator';
export * from './duration';
export * from './rule-files';
export * from './rule-schema';
export * from './fact-catalog';
export * from './rule-json-schema';
