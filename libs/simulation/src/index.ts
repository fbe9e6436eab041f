export * from './drive-profiles';
export * from './simulated-vehicle';
