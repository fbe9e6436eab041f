/**
 * The value of a fleet.gateway.progress record: compacted, keyed by the gateway's MQTT client id, written every
 * second. Everything the gateway received before `receivedThrough` is in the log (it writes the record behind those
 * messages, in the same order). cep advances the event time of partitions with nothing to read no further than the
 * oldest of these: readings held up before Kafka (Kafka or a gateway down, a backlog being flushed) are then not
 * taken for late when they land, and vehicles are not called silent while the platform is.
 */
export interface GatewayProgress {
  /** ISO time; also when the gateway was last heard from. */
  receivedThrough: string;
}
