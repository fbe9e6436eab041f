import { deviceIdSyntax } from '@fleetlog/contracts';

/** What a device publishes on: readings, diagnostic trouble codes, and connection status (e.g. a last will). */
export type DeviceChannel = 'telemetry' | 'dtc' | 'status';

export interface DeviceIdentity {
  fleetId: string;
  vehicleId: string;
}

export interface DeviceTopic extends DeviceIdentity {
  channel: DeviceChannel;
}

const deviceTopic = new RegExp(`^fleet/(${deviceIdSyntax})/(${deviceIdSyntax})/(telemetry|dtc|status)$`);

/**
 * The gateway subscribes to every device channel and to anything else at that depth, so that a message on an
 * unknown channel becomes a dead letter instead of disappearing. The broker's ACL guarantees that a device publishes
 * only under its own fleet and vehicle ids.
 */
export const deviceTopicFilter = 'fleet/+/+/+';

export function deviceTopicFor(identity: DeviceIdentity, channel: DeviceChannel = 'telemetry'): string {
  return `fleet/${identity.fleetId}/${identity.vehicleId}/${channel}`;
}

/** Identity comes from the topic, never from the payload: the payload only has to agree with it. */
export function parseDeviceTopic(topic: string): DeviceTopic | undefined {
  const match = deviceTopic.exec(topic);
  return match ? { fleetId: match[1]!, vehicleId: match[2]!, channel: match[3] as DeviceChannel } : undefined;
}
