import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** cep's metrics, one set for every job the instance runs, told apart by the `job` label (its version). */
@Injectable()
export class CepMetrics {
  readonly records: Counter<'job'>;
  readonly late: Counter<'job'>;
  readonly duplicates: Counter<'job'>;
  readonly parked: Counter<'job' | 'index'>;
  readonly alertTransitions: Counter<'job' | 'severity' | 'status'>;
  readonly batchSeconds: Histogram<'job'>;
  readonly vehicles: Gauge<'job'>;
  readonly activeAlerts: Gauge<'job'>;

  constructor(metrics: Registry) {
    const registers = [metrics];
    this.records = new Counter({
      name: 'fleetlog_cep_records_total',
      help: 'Telemetry records processed',
      labelNames: ['job'],
      registers,
    });
    this.late = new Counter({
      name: 'fleetlog_cep_late_records_total',
      help: 'Telemetry records older than their partition watermark: indexed, left out of windows and rules',
      labelNames: ['job'],
      registers,
    });
    this.duplicates = new Counter({
      name: 'fleetlog_cep_duplicate_records_total',
      help: 'Messages a device sent again (same vehicle, event time and seq as its newest): stored and counted once',
      labelNames: ['job'],
      registers,
    });
    this.parked = new Counter({
      name: 'fleetlog_cep_documents_parked_total',
      help: 'Documents Elasticsearch refused for good, parked on fleet.documents.dlq',
      labelNames: ['job', 'index'],
      registers,
    });
    this.alertTransitions = new Counter({
      name: 'fleetlog_cep_alert_transitions_total',
      help: 'Alert transitions emitted',
      labelNames: ['job', 'severity', 'status'],
      registers,
    });
    this.batchSeconds = new Histogram({
      name: 'fleetlog_cep_batch_seconds',
      help: 'From batch fetched to stored and alerts acknowledged',
      labelNames: ['job'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.vehicles = new Gauge({
      name: 'fleetlog_cep_vehicles',
      help: 'Vehicles whose windows, aggregates and alert state this instance keeps (its partitions): what its memory grows with',
      labelNames: ['job'],
      registers,
    });
    this.activeAlerts = new Gauge({
      name: 'fleetlog_cep_active_alerts',
      help: "Alerts active now on this instance's partitions",
      labelNames: ['job'],
      registers,
    });
  }
}
