export * from './drive-profiles';
export * from './simulated-vehicle';
export * from './simulated-device';
export * from './carobd-recording';
