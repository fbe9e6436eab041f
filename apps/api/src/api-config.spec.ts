import { ConfigError, apiEnvSchema, loadConfig } from '@fleetlog/config';

describe('api configuration', () => {
  it('runs without a bootstrap admin key, with the rate limit and key cache defaults', () => {
    const config = loadConfig(apiEnvSchema, {});
    expect(config.API_ADMIN_KEY).toBeUndefined();
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(config).toMatchObject({
      API_KEY_CACHE_TTL_MS: 5_000,
      API_RATE_LIMIT_PER_SECOND: 20,
      API_RATE_LIMIT_BURST: 100,
    });
  });

  it('refuses a bootstrap admin key shorter than 32 characters, naming the variable', () => {
    expect(() => loadConfig(apiEnvSchema, { API_ADMIN_KEY: 'too-short' })).toThrow(ConfigError);
    expect(() => loadConfig(apiEnvSchema, { API_ADMIN_KEY: 'too-short' })).toThrow(
      /API_ADMIN_KEY: at least 32/,
    );
  });
});
