/**
 * How far wall-clock time may move the event time of partitions with nothing to read: to `now`, but not past what
 * every gateway has put in the log (`receivedThrough`, see GatewayProgress). A gateway not heard from for `expiryMs`
 * is left out: gone for good, or away so long that holding every partition back for it would stall absence alerts
 * for the whole fleet; its backlog, if any, then arrives late. With no gateway (telemetry written to Kafka directly)
 * the bound is `now`.
 */
export function sourceTime(receivedThrough: Iterable<number>, now: number, expiryMs: number): number {
  let bound = now;
  for (const through of receivedThrough) {
    if (now - through <= expiryMs) bound = Math.min(bound, through);
  }
  return bound;
}
