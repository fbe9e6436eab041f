import mqtt from 'mqtt';

/**
 * Discards a stopped subscriber's persistent session: connecting under its client id with a clean start and no
 * session expiry ends it at once. For a subscriber that will not come back (a test's gateway, the main job's demo
 * gateway, an instance scaled away), whose session would otherwise queue a copy of every device message its
 * subscription matches. Mosquitto 2.0.11 cannot be left to expire it: a session persisted over a broker restart
 * comes back without its expiry and is kept for good (eclipse-mosquitto/mosquitto#2610, #2546).
 */
export async function endBrokerSession(url: string, clientId: string): Promise<void> {
  const client = await mqtt.connectAsync(url, {
    protocolVersion: 5,
    clientId,
    clean: true,
    reconnectPeriod: 0,
    log: () => undefined,
    properties: { sessionExpiryInterval: 0 },
  });
  await client.endAsync();
}
