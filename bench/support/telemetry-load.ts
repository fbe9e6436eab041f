import { LeanMqttPublisher } from './lean-mqtt-publisher.ts';

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on this machine. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

interface BenchVehicle {
  vehicleId: string;
  /** Its place in the fleet: staggers the readings that raise alerts. */
  index: number;
  topic: string;
  /** Everything up to `"ts":`, which stays the same for the vehicle. */
  head: string;
  /** The readings after `seq`: varied between vehicles, fixed per vehicle (their values do not change the cost). */
  readings: string;
  /** The same readings at `speedingKph`: what `alertEvery` sends. */
  speedingReadings: string;
  seq: number;
  connection: number;
}

const sentAtMarker = '"sentAt":';

/**
 * A valid telemetry message of about 270 bytes, as a 1 Hz OBD-II device sends it. `ext.sentAt` carries the
 * publisher's clock, read back on the far side (MQTT subscriber or Kafka record) to measure latency.
 */
function payloadOf(vehicle: BenchVehicle, sentAt: number, speeding: boolean): string {
  const readings = speeding ? vehicle.speedingReadings : vehicle.readings;
  return `${vehicle.head}"ts":"${new Date(sentAt).toISOString()}","seq":${vehicle.seq++},${readings},"ext":{${sentAtMarker}${sentAt.toFixed(3)}}}`;
}

/** The publisher's send time inside a payload or a gateway record (which keeps `ext` as it came). */
export function sentAtOf(text: string): number {
  const start = text.lastIndexOf(sentAtMarker) + sentAtMarker.length;
  return Number.parseFloat(text.slice(start, text.indexOf('}', start)));
}

/** The speed of the readings `alertEvery` sends; the others stay below 110 km/h. */
export const speedingKph = 250;

function benchVehicles(fleetId: string, count: number, connections: number): BenchVehicle[] {
  return Array.from({ length: count }, (_, index) => {
    const vehicleId = `v-${String(index).padStart(5, '0')}`;
    const vary = (base: number, spread: number, decimals: number) =>
      (base + ((index * 7919) % 1000) * (spread / 1000)).toFixed(decimals);
    const readingsAt = (speedKph: string) =>
      `"position":{"lat":${vary(52.3, 0.4, 6)},"lon":${vary(13.1, 0.6, 6)}},"speedKph":${speedKph},` +
      `"rpm":${vary(900, 2600, 0)},"coolantTempC":${vary(80, 15, 1)},"engineLoadPct":${vary(10, 70, 1)},` +
      `"fuelLevelPct":${vary(15, 80, 1)},"batteryV":${vary(13.6, 0.8, 2)}`;
    return {
      vehicleId,
      index,
      topic: `fleet/${fleetId}/${vehicleId}/telemetry`,
      head: `{"vehicleId":"${vehicleId}","fleetId":"${fleetId}",`,
      readings: readingsAt(vary(20, 90, 1)),
      speedingReadings: readingsAt(speedingKph.toFixed(1)),
      seq: 0,
      connection: index % connections,
    };
  });
}

export interface LoadOptions {
  mqttUrl: string;
  clientIdPrefix: string;
  fleetId: string;
  connections: number;
  vehicles: number;
  /** Publishes awaiting the broker's PUBACK, per connection. */
  maxUnacknowledgedPerConnection: number;
  /**
   * Sent but not yet seen at the far end (subscriber or Kafka). Past this the publishers wait: Mosquitto would
   * otherwise queue up to max_queued_messages per session and then drop, which measures the broker, not the gateway.
   */
  maxBacklog: number;
  /** Every n-th reading of a vehicle is at 250 km/h, staggered across the fleet: alerts at a known rate. */
  alertEvery?: number;
  /** Told of each reading as it goes out, for a probe that follows single readings through the pipeline. */
  onSent?: (vehicleId: string, seq: number, sentAt: number) => void;
}

/** How many messages the far end has seen so far; polled, so it may lag a little. */
export type DeliveredCount = () => number;

const tickMs = 1;
/** A paced publisher that fell behind (backlog limit, busy CPU) catches up by at most this much, not in one burst. */
const maxCatchUpMs = 50;

/**
 * Several MQTT v5 connections publishing at QoS 1 for many vehicles, each vehicle always on the same connection
 * (its messages stay in order, as from one device). Paced to a target rate, or as fast as the limits allow.
 */
export class LoadPublisher {
  private readonly options: LoadOptions;
  private readonly clients: LeanMqttPublisher[];
  private readonly unacknowledged: number[];
  private readonly vehicles: BenchVehicle[];
  private nextVehicle = 0;
  private timer: NodeJS.Timeout | undefined;
  private allAcknowledged: (() => void) | undefined;
  /** Publish calls made, over the publisher's life. */
  sent = 0;
  failed = 0;

  private constructor(options: LoadOptions, clients: LeanMqttPublisher[]) {
    this.options = options;
    this.clients = clients;
    this.unacknowledged = clients.map(() => 0);
    this.vehicles = benchVehicles(options.fleetId, options.vehicles, clients.length);
  }

  static async connect(options: LoadOptions): Promise<LoadPublisher> {
    const clients = await Promise.all(
      Array.from({ length: options.connections }, (_, index) =>
        LeanMqttPublisher.connect(options.mqttUrl, `${options.clientIdPrefix}-${index}`),
      ),
    );
    return new LoadPublisher(options, clients);
  }

  /** Starts publishing at `ratePerSecond` (undefined: unpaced) until `pause`. */
  start(ratePerSecond: number | undefined, delivered: DeliveredCount): void {
    const startedAt = performance.now();
    const catchUp = ratePerSecond === undefined ? 0 : Math.ceil((maxCatchUpMs * ratePerSecond) / 1000);
    let sentSinceStart = 0;
    let givenUp = 0;
    this.timer = setInterval(() => {
      let allowed = Number.POSITIVE_INFINITY;
      if (ratePerSecond !== undefined) {
        const due = Math.floor(((performance.now() - startedAt) * ratePerSecond) / 1000);
        givenUp = Math.max(givenUp, due - sentSinceStart - catchUp);
        allowed = due - givenUp - sentSinceStart;
      }
      allowed = Math.min(allowed, this.options.maxBacklog - (this.sent - delivered()));
      while (allowed-- > 0 && this.publishNext()) sentSinceStart++;
    }, tickMs);
  }

  /** Stops publishing and waits for the broker to acknowledge everything sent. */
  async pause(): Promise<void> {
    clearInterval(this.timer);
    if (this.unacknowledged.every((count) => count === 0)) return;
    await new Promise<void>((resolve) => (this.allAcknowledged = resolve));
  }

  async close(): Promise<void> {
    await this.pause();
    await Promise.all(this.clients.map((client) => client.close()));
  }

  private publishNext(): boolean {
    const vehicle = this.vehicles[this.nextVehicle]!;
    const connection = vehicle.connection;
    if (this.unacknowledged[connection]! >= this.options.maxUnacknowledgedPerConnection) return false;
    this.nextVehicle = (this.nextVehicle + 1) % this.vehicles.length;
    this.unacknowledged[connection]!++;
    this.sent++;
    const { alertEvery, onSent } = this.options;
    const speeding = alertEvery !== undefined && (vehicle.seq + vehicle.index) % alertEvery === 0;
    const sentAt = preciseNow();
    onSent?.(vehicle.vehicleId, vehicle.seq, sentAt);
    this.clients[connection]!.publish(vehicle.topic, payloadOf(vehicle, sentAt, speeding), (error) => {
      if (error) this.failed++;
      this.unacknowledged[connection]!--;
      if (this.allAcknowledged && this.unacknowledged.every((count) => count === 0)) {
        this.allAcknowledged();
        this.allAcknowledged = undefined;
      }
    });
    return true;
  }
}
