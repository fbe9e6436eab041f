import mqtt, { type MqttClient } from 'mqtt';

/** One reading a simulated vehicle sent: which vehicle, its sequence number, its event time (= when it was sent). */
export interface SentReading {
  vehicleId: string;
  seq: number;
  ts: number;
}

/** `rule|vehicle|startedAt (ms)`: an alert told apart without asking cep how it derives its id. */
export type AlertKey = string;

export const alertKey = (ruleId: string, vehicleId: string, startedAt: number | string): AlertKey =>
  `${ruleId}|${vehicleId}|${typeof startedAt === 'string' ? Date.parse(startedAt) : startedAt}`;

export const readingKey = (vehicleId: string, seq: number) => `${vehicleId}#${seq}`;

/**
 * Every vehicle repeats a 10 s cycle of 100 readings: 3 s of hot coolant (phases 20–49) raise `fault-coolant-hot`
 * after 2 s; 1 s above 130 km/h (phases 50–59) raises `fault-overspeed` at once. The alerts a run must produce
 * follow from the readings devices had acknowledged, computed here without any of cep's code.
 */
const CYCLE = 100;
const HOT = { from: 20, to: 49 };
const FAST = { from: 50, to: 59 };
const inPhase = (seq: number, range: { from: number; to: number }) =>
  seq % CYCLE >= range.from && seq % CYCLE <= range.to;

/**
 * Devices publishing at QoS 1 at a steady rate on one connection, as a fleet does while the fault happens. The
 * client queues while the broker is away and resends what was not acknowledged, as a device's MQTT stack does.
 */
export class SteadyTraffic {
  /** By reading key: what was sent and when. */
  readonly sent = new Map<string, SentReading>();
  /** Reading keys the broker acknowledged (PUBACK): what the platform now owes the fleet. */
  readonly acknowledged = new Set<string>();
  readonly vehicleIds: string[];
  private client: MqttClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly pending = new Set<Promise<unknown>>();
  private seq = 0;

  constructor(
    private readonly options: {
      mqttUrl: string;
      clientId: string;
      fleetId: string;
      vehicles: number;
      rateHz: number;
    },
  ) {
    this.vehicleIds = Array.from(
      { length: options.vehicles },
      (_, index) => `v${String(index).padStart(3, '0')}`,
    );
  }

  async start(): Promise<void> {
    this.client = await mqtt.connectAsync(this.options.mqttUrl, {
      protocolVersion: 5,
      clientId: this.options.clientId,
      reconnectPeriod: 500,
      connectTimeout: 5_000,
    });
    this.timer = setInterval(() => this.publishRound(), 1_000 / this.options.rateHz);
  }

  /** Stops sending and waits until every reading sent was acknowledged, or the time is up. */
  async stop(timeoutMs: number): Promise<void> {
    clearInterval(this.timer);
    const settled = Promise.allSettled([...this.pending]);
    await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
    await this.client?.endAsync(true);
  }

  /** The alerts the acknowledged readings must raise: each hot spell that lasted 2 s, each burst of speed. */
  expectedAlerts(): Map<AlertKey, SentReading> {
    const expected = new Map<AlertKey, SentReading>();
    for (const reading of this.sent.values()) {
      if (!this.acknowledged.has(readingKey(reading.vehicleId, reading.seq))) continue;
      const phase = reading.seq % CYCLE;
      if (phase === FAST.from)
        expected.set(alertKey('fault-overspeed', reading.vehicleId, reading.ts), reading);
      const raising = phase === HOT.from ? this.firstReadingAfter(reading, 2_000) : undefined;
      if (raising && this.acknowledged.has(readingKey(raising.vehicleId, raising.seq)))
        expected.set(alertKey('fault-coolant-hot', reading.vehicleId, reading.ts), raising);
    }
    return expected;
  }

  /** The reading that raises a `for` alert: the spell's first one at least `heldMs` after its start. */
  private firstReadingAfter(start: SentReading, heldMs: number): SentReading | undefined {
    for (let seq = start.seq + 1; inPhase(seq, HOT); seq++) {
      const reading = this.sent.get(readingKey(start.vehicleId, seq));
      if (reading && reading.ts - start.ts >= heldMs) return reading;
    }
    return undefined;
  }

  private publishRound(): void {
    const seq = this.seq++;
    const ts = Date.now();
    for (const vehicleId of this.vehicleIds) {
      const reading: SentReading = { vehicleId, seq, ts };
      const key = readingKey(vehicleId, seq);
      this.sent.set(key, reading);
      const payload = JSON.stringify({
        vehicleId,
        fleetId: this.options.fleetId,
        ts: new Date(ts).toISOString(),
        seq,
        speedKph: inPhase(seq, FAST) ? 150 : 60,
        coolantTempC: inPhase(seq, HOT) ? 115 : 90,
        rpm: 2_000,
        ignition: true,
      });
      const publish = this.client!.publishAsync(
        `fleet/${this.options.fleetId}/${vehicleId}/telemetry`,
        payload,
        {
          qos: 1,
        },
      ).then(() => this.acknowledged.add(key));
      this.pending.add(publish);
      void publish.finally(() => this.pending.delete(publish)).catch(() => undefined);
    }
  }
}
