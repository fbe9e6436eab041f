import { ConfigError, gatewayEnvSchema, loadConfig } from '@fleetlog/config';

describe('gateway configuration', () => {
  it('refuses a payload limit whose dead letters Kafka would refuse, naming the variable', () => {
    expect(loadConfig(gatewayEnvSchema, {}).GATEWAY_MAX_PAYLOAD_BYTES).toBe(64 * 1024);
    expect(
      loadConfig(gatewayEnvSchema, { GATEWAY_MAX_PAYLOAD_BYTES: '524288' }).GATEWAY_MAX_PAYLOAD_BYTES,
    ).toBe(512 * 1024);
    const tooLarge = () => loadConfig(gatewayEnvSchema, { GATEWAY_MAX_PAYLOAD_BYTES: String(1024 * 1024) });
    expect(tooLarge).toThrow(ConfigError);
    expect(tooLarge).toThrow(/GATEWAY_MAX_PAYLOAD_BYTES/);
  });
});
