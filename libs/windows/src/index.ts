export * from './aggregate';
export * from './hopping';
export * from './session';
export * from './sliding';
export * from './time-window';
export * from './tumbling';
export * from './window-function';
