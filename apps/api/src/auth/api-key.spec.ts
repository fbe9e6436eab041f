import { generateApiKey, hashApiKey, roleAtLeast, sameKey } from './api-key';

describe('API keys', () => {
  it('are prefixed, carry 32 random bytes, and differ on every call', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^flk_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key.slice(4), 'base64url')).toHaveLength(32);
    expect(generateApiKey()).not.toBe(key);
  });

  it('hash to a stable digest that does not contain the key', () => {
    const key = generateApiKey();
    expect(hashApiKey(key)).toBe(hashApiKey(key));
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey(key)).not.toContain(key.slice(4));
  });

  it('match only themselves, whatever their lengths', () => {
    const key = generateApiKey();
    expect(sameKey(key, key)).toBe(true);
    expect(sameKey(key.slice(0, -1), key)).toBe(false);
    expect(sameKey(`${key}x`, key)).toBe(false);
  });
});

describe('roles', () => {
  it('rank viewer < operator < admin, each allowed what the ones below may do', () => {
    expect(roleAtLeast('admin', 'operator')).toBe(true);
    expect(roleAtLeast('operator', 'operator')).toBe(true);
    expect(roleAtLeast('operator', 'admin')).toBe(false);
    expect(roleAtLeast('viewer', 'operator')).toBe(false);
    expect(roleAtLeast('viewer', 'viewer')).toBe(true);
  });
});
