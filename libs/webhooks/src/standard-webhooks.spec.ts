import { signWebhook, verifyWebhook } from './standard-webhooks';

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const sentAt = new Date('2026-11-23T12:00:00Z');
const body = '{"alertId":"abc"}';

describe('Standard Webhooks signatures', () => {
  it('produces the documented v1 signature for the specification example', () => {
    // Example from the Standard Webhooks specification.
    const headers = signWebhook(
      secret,
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      new Date(1614265330 * 1000),
      '{"test": 2432232314}',
    );
    expect(headers['webhook-signature']).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('verifies what it signs and rejects a tampered body, a wrong secret or a stale timestamp', () => {
    const headers = signWebhook(secret, 'alert-1', sentAt, body);
    expect(verifyWebhook(secret, headers, body, sentAt)).toBe(true);
    expect(verifyWebhook(secret, headers, body.replace('abc', 'abd'), sentAt)).toBe(false);
    expect(verifyWebhook('whsec_b3RoZXItc2VjcmV0LWtleS1ieXRlcw==', headers, body, sentAt)).toBe(false);
    expect(verifyWebhook(secret, headers, body, new Date(sentAt.getTime() + 301_000))).toBe(false);
  });
});
