export const windowFunctions = [
  'avg',
  'min',
  'max',
  'sum',
  'count',
  'first',
  'last',
  'stddev',
  'delta',
] as const;

/**
 * What a window reports over its values. `first`, `last` and `delta` (last − first) go by event time, not arrival;
 * `stddev` is the population standard deviation. An empty window has a `count` and `sum` of 0 and no other value.
 */
export type WindowFunction = (typeof windowFunctions)[number];
