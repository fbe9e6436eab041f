/**
 * The value of a fleet.documents.dlq record (key: the document id): a document Elasticsearch refused for good
 * (a mapping conflict, say), parked with the reason so that its partition keeps flowing and the document can be
 * fixed and re-indexed. Load rejections (429, 5xx) are retried, never parked.
 */
export interface DocumentDeadLetter {
  index: string;
  id: string;
  /** Elasticsearch's error type and reason. */
  reason: string;
  status: number;
  /** Telemetry documents carry their log position (kafkaPartition, kafkaOffset); alerts their lineage. */
  document: object;
  rejectedAt: string;
}
