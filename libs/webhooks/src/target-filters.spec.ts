import type { AlertMessage, WebhookTarget } from '@fleetlog/contracts';
import { filtersMatch, parseWebhookTarget, targetReceives } from './target-filters';

const alert = { fleetId: 'north', ruleId: 'overspeed', severity: 'critical' } as AlertMessage;
const target: WebhookTarget = {
  id: '0b6c2f1e-2d1a-4a8e-9d43-6f0d1f3c9a10',
  url: 'https://hooks.example.com/fleet',
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  enabled: true,
  filters: {},
  allowPrivateNetwork: false,
  changedBy: 'admin',
  changedAt: '2026-12-03T06:00:00Z',
};

describe('filtersMatch', () => {
  it('matches everything when no dimension is listed or a list is empty', () => {
    expect(filtersMatch({}, alert)).toBe(true);
    expect(filtersMatch({ fleetIds: [], ruleIds: [], severities: [] }, alert)).toBe(true);
  });

  it('needs every listed dimension to match', () => {
    expect(filtersMatch({ fleetIds: ['north', 'south'], severities: ['critical'] }, alert)).toBe(true);
    expect(filtersMatch({ fleetIds: ['north'], severities: ['warning'] }, alert)).toBe(false);
    expect(filtersMatch({ ruleIds: ['harsh-braking'] }, alert)).toBe(false);
    expect(filtersMatch({ fleetIds: ['south'] }, alert)).toBe(false);
  });
});

describe('targetReceives', () => {
  it('sends nothing to a disabled target', () => {
    expect(targetReceives(target, alert)).toBe(true);
    expect(targetReceives({ ...target, enabled: false }, alert)).toBe(false);
  });

  it('sends a target the alerts of a rule whose actions name it, whatever its filters', () => {
    const elsewhere = { ...target, filters: { fleetIds: ['south'] } };
    expect(targetReceives(elsewhere, alert)).toBe(false);
    expect(targetReceives(elsewhere, { ...alert, webhookTargetIds: [target.id] })).toBe(true);
    expect(targetReceives(elsewhere, { ...alert, webhookTargetIds: ['wht_0000000000000000'] })).toBe(false);
    expect(
      targetReceives({ ...elsewhere, enabled: false }, { ...alert, webhookTargetIds: [target.id] }),
    ).toBe(false);
  });
});

describe('parseWebhookTarget', () => {
  it('accepts a well-formed record and defaults what an older writer left out', () => {
    const { id, url, secret, changedBy, changedAt } = target;
    expect(parseWebhookTarget({ id, url, secret, changedBy, changedAt })).toEqual(target);
  });

  it('says why it refuses a record', () => {
    expect(parseWebhookTarget(null)).toBe('not an object');
    expect(parseWebhookTarget({ ...target, url: 'ftp://hooks.example.com/' })).toBe(
      'url must be http or https',
    );
    expect(parseWebhookTarget({ ...target, url: 'not a url' })).toBe('url is not a URL');
    expect(parseWebhookTarget({ ...target, secret: 'short' })).toBe('secret shorter than 24 characters');
    expect(parseWebhookTarget({ ...target, filters: { fleetIds: 'north' } })).toBe('filters must be lists');
  });
});
