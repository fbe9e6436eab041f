import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

@Injectable()
export class NotifierMetrics {
  readonly deliveries: Counter<'outcome'>;
  readonly attemptSeconds: Histogram<'result'>;
  readonly retryQueueDepth: Gauge;
  readonly deliveryLogFailures: Counter;

  constructor(metrics: Registry) {
    const registers = [metrics];
    this.deliveries = new Counter({
      name: 'fleetlog_notifier_webhook_deliveries_total',
      help: 'Finished webhook deliveries by outcome (delivered, parked, discarded: target deleted or disabled)',
      labelNames: ['outcome'],
      registers,
    });
    this.attemptSeconds = new Histogram({
      name: 'fleetlog_notifier_webhook_attempt_seconds',
      help: 'One delivery attempt, DNS to response, by result (delivered, failed, refused)',
      labelNames: ['result'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.retryQueueDepth = new Gauge({
      name: 'fleetlog_notifier_webhook_deliveries_owed',
      help: 'Deliveries owed (due or waiting for a retry) or in flight on the partitions this instance owns',
      registers,
    });
    this.deliveryLogFailures = new Counter({
      name: 'fleetlog_notifier_delivery_log_failures_total',
      help: 'Delivery log documents Elasticsearch did not store (deliveries go on regardless)',
      registers,
    });
  }
}
