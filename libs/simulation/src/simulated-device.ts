import type { TelemetryMessage } from '@fleetlog/contracts';
import { deviceTopicFor, type DeviceChannel } from '@fleetlog/telemetry';
import { normalCondition, seededRandom, type SimulatedVehicle } from './simulated-vehicle';

/** The faults a simulated fleet can show, each what one of the rule library's rules (or the gateway) is there for. */
export const faultKinds = [
  'overheat',
  'harsh-braking',
  'dtc',
  'fuel-theft',
  'offline',
  'bad-payload',
] as const;
export type FaultKind = (typeof faultKinds)[number];

/** One MQTT publication: a topic and the exact payload text (bad payloads are not JSON of a message). */
export interface DevicePublication {
  topic: string;
  payload: string;
}

export interface FaultSchedule {
  kind: FaultKind;
  /** Seconds from the device's start to its first episode. */
  firstAfterS: number;
  /** Seconds between the starts of two episodes. */
  everyS: number;
}

/**
 * How long an episode lasts, in seconds, and what it does over that time (`progress` = seconds into the episode).
 * The shapes are chosen so the rule library sees them as a real vehicle's: engine-overheat needs > 105 °C for 30 s,
 * fuel-theft a 5 % drop with no movement in the last 10 minutes, vehicle-offline 10 minutes of silence.
 */
const episodes: Record<FaultKind, { seconds: number }> = {
  overheat: { seconds: 240 },
  'harsh-braking': { seconds: 15 },
  dtc: { seconds: 1 },
  'fuel-theft': { seconds: 16 * 60 },
  offline: { seconds: 12 * 60 },
  'bad-payload': { seconds: 60 },
};

/** Trouble codes a failing engine reports (misfire, overheating, lean mixture, thermostat). */
const troubleCodes = ['P0300', 'P0217', 'P0171', 'P0128'];

/**
 * Payloads the gateway must refuse with a reason and a dead letter, each a different kind of bad input: what a
 * buggy or hostile device sends. `message` is what the device would have sent.
 */
const badPayloads: Array<(message: TelemetryMessage) => string> = [
  (message) => JSON.stringify(message).slice(0, 40),
  (message) => JSON.stringify({ ...message, speedKph: 'fast' }),
  (message) => JSON.stringify(message).replace(/"speedKph":[^,]+/, '"speedKph":NaN'),
  (message) =>
    JSON.stringify({ ...message, ts: new Date(Date.parse(message.ts) + 86_400_000).toISOString() }),
  (message) => JSON.stringify({ ...message, vehicleId: `${message.vehicleId}-spoofed` }),
  () => `{"ext":${'['.repeat(64)}${']'.repeat(64)}}`,
];

/**
 * A vehicle as its telematics device: publishes the vehicle's telemetry, and, when it has a fault schedule, the
 * fault's episodes at seeded times — the vehicle overheating, braking hard, parked while its fuel is siphoned,
 * reporting a trouble code, going silent, or sending garbage.
 */
export class SimulatedDevice {
  private readonly telemetryTopic: string;
  private elapsedS = 0;
  private badPayloadsSent = 0;

  constructor(
    readonly vehicle: SimulatedVehicle,
    private readonly identity: { fleetId: string; vehicleId: string },
    private readonly fault: FaultSchedule | undefined,
  ) {
    this.telemetryTopic = deviceTopicFor(identity);
  }

  /** What the device publishes at `now`, `elapsedSeconds` after its previous tick: nothing while offline. */
  tick(now: Date, elapsedSeconds: number): DevicePublication[] {
    this.elapsedS += elapsedSeconds;
    const episode = this.currentEpisode();
    this.vehicle.condition = episode
      ? this.conditionFor(episode.kind, episode.progressS)
      : { ...normalCondition };
    const message = this.vehicle.tick(now, elapsedSeconds);
    if (!episode) return [this.publication(message)];
    switch (episode.kind) {
      case 'offline':
        return [];
      case 'dtc': {
        const { fleetId, vehicleId, ts } = message;
        const code = troubleCodes[this.episodeNumber() % troubleCodes.length]!;
        return [this.publication(message), this.publication({ fleetId, vehicleId, ts, dtcs: [code] }, 'dtc')];
      }
      case 'bad-payload': {
        const bad = badPayloads[this.badPayloadsSent++ % badPayloads.length]!;
        return [this.publication(message), { topic: this.telemetryTopic, payload: bad(message) }];
      }
      default:
        return [this.publication(message)];
    }
  }

  private publication(message: TelemetryMessage, channel: DeviceChannel = 'telemetry'): DevicePublication {
    return {
      topic: channel === 'telemetry' ? this.telemetryTopic : deviceTopicFor(this.identity, channel),
      payload: JSON.stringify(message),
    };
  }

  private currentEpisode(): { kind: FaultKind; progressS: number } | undefined {
    if (!this.fault || this.elapsedS < this.fault.firstAfterS) return undefined;
    const progressS = (this.elapsedS - this.fault.firstAfterS) % this.fault.everyS;
    return progressS < episodes[this.fault.kind].seconds ? { kind: this.fault.kind, progressS } : undefined;
  }

  private episodeNumber(): number {
    return Math.floor((this.elapsedS - this.fault!.firstAfterS) / this.fault!.everyS);
  }

  private conditionFor(kind: FaultKind, progressS: number) {
    const condition = { ...normalCondition };
    switch (kind) {
      case 'overheat':
        condition.coolantTargetC = 118;
        break;
      case 'harsh-braking':
        // A stop from speed at about 0.45 g, then a moment standing.
        condition.targetKphOverride = 0;
        condition.brakingKphPerS = 16;
        break;
      case 'fuel-theft':
        // Parked: the siphon starts once the drive before parking has left fuel-theft's 10-minute window, and takes
        // 8 % of the tank over three minutes.
        condition.targetKphOverride = 0;
        if (progressS >= 11 * 60 && progressS < 14 * 60) condition.fuelLossPctPerS = 8 / 180;
        break;
      default:
        break;
    }
    return condition;
  }
}

/** Which devices get a fault and which: a `share` of the fleet, kinds in turn, first episodes spread over `everyS`. */
export function faultScheduleFor(
  index: number,
  share: number,
  everyS: number,
  kinds: readonly FaultKind[] = faultKinds,
): FaultSchedule | undefined {
  const random = seededRandom(index * 7919 + 17);
  if (share <= 0 || random() >= share) return undefined;
  return {
    kind: kinds[index % kinds.length]!,
    firstAfterS: 60 + Math.floor(random() * Math.max(1, everyS - 60)),
    everyS,
  };
}
