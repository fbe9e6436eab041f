import mqtt from 'mqtt';

/**
 * Ends a stopped gateway's persistent session on the broker. The gateway keeps its session for 24 h (clean start off)
 * with a shared subscription to every device topic, so until it expires the broker queues, and autosaves, a copy of
 * everything any later test publishes for it: with a few dozen test namespaces that slows the shared broker down
 * for everyone. Connecting under the same client id with a clean start and no session expiry discards it.
 */
export async function endBrokerSession(clientId: string): Promise<void> {
  const client = await mqtt.connectAsync(process.env.MQTT_URL!, {
    protocolVersion: 5,
    clientId,
    clean: true,
    reconnectPeriod: 0,
    properties: { sessionExpiryInterval: 0 },
  });
  await client.endAsync();
}
