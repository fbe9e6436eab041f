export interface DeviceIdentity {
  fleetId: string;
  vehicleId: string;
}

const identifier = '[A-Za-z0-9_-]{1,64}';
const telemetryTopic = new RegExp(`^fleet/(${identifier})/(${identifier})/telemetry$`);

/** The MQTT topic filter the gateway subscribes to; the broker's ACL guarantees a device publishes only under its own ids. */
export const telemetryTopicFilter = 'fleet/+/+/telemetry';

export function telemetryTopicFor(identity: DeviceIdentity): string {
  return `fleet/${identity.fleetId}/${identity.vehicleId}/telemetry`;
}

/** Identity comes from the topic, never from the payload: the payload only has to agree with it. */
export function parseTelemetryTopic(topic: string): DeviceIdentity | undefined {
  const match = telemetryTopic.exec(topic);
  return match ? { fleetId: match[1]!, vehicleId: match[2]! } : undefined;
}
