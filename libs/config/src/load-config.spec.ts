import { cepEnvSchema, gatewayEnvSchema, notifierEnvSchema } from './env-schemas';
import { ConfigError, loadConfig } from './load-config';

describe('loadConfig', () => {
  it('fills local defaults so a fresh checkout runs against the local stack', () => {
    const config = loadConfig(gatewayEnvSchema, {});
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(config.MQTT_URL).toBe('mqtt://127.0.0.1:1883');
    expect(config.HTTP_PORT).toBe(3001);
  });

  it('splits a broker list and coerces numbers from strings', () => {
    const config = loadConfig(gatewayEnvSchema, { KAFKA_BROKERS: 'a:1, b:2', HTTP_PORT: '8080' });
    expect(config.KAFKA_BROKERS).toEqual(['a:1', 'b:2']);
    expect(config.HTTP_PORT).toBe(8080);
  });

  it('reports every invalid variable by name in one error', () => {
    const attempt = () =>
      loadConfig(cepEnvSchema, {
        KAFKA_BROKERS: 'no-port',
        ELASTICSEARCH_URL: 'ftp://x',
        CEP_JOB_VERSION: '2',
      });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).toMatch(/^KAFKA_BROKERS: .*host:port/m);
      expect(problems).toMatch(/^ELASTICSEARCH_URL: .*http or https/m);
      expect(problems).toMatch(/^CEP_JOB_VERSION: /m);
    }
  });

  it('refuses a webhook URL without a strong enough signing secret', () => {
    expect(() =>
      loadConfig(notifierEnvSchema, { WEBHOOK_URL: 'http://127.0.0.1:1/hook', WEBHOOK_SECRET: 'short' }),
    ).toThrow(/WEBHOOK_SECRET: required with WEBHOOK_URL/);
  });
});
