import { compareAlerts } from '@fleetlog/cep';
import { alertMessage } from '../../../../test/support/alert-message';
import { summarizeDiff } from './replay-diff';

describe('replay diff summary', () => {
  const before = [
    alertMessage('overspeed', 'car-1', '2026-01-01T00:00:00Z'),
    alertMessage('overspeed', 'car-2', '2026-01-01T00:01:00Z'),
    alertMessage('overheat', 'car-1', '2026-01-01T00:02:00Z'),
  ];
  const after = [
    alertMessage('overspeed', 'car-1', '2026-01-01T00:00:00Z', { ruleVersion: 2, alertId: 'other-id' }),
    alertMessage('overheat', 'car-1', '2026-01-01T00:02:00Z', { status: 'cleared' }),
    alertMessage('idling', 'car-2', '2026-01-01T00:03:00Z'),
  ];
  const diff = summarizeDiff({ from: 'v1', to: 'v2' }, { from: 3, to: 3 }, compareAlerts(before, after), 2);

  it('counts added, removed, changed and unchanged alerts, matching across rule versions', () => {
    expect(diff.totals).toEqual({ added: 1, removed: 1, changed: 1, unchanged: 1 });
  });

  it('counts per rule and per vehicle', () => {
    expect(diff.byRule).toEqual(
      expect.arrayContaining([
        { ruleId: 'overspeed', added: 0, removed: 1, changed: 0 },
        { ruleId: 'overheat', added: 0, removed: 0, changed: 1 },
        { ruleId: 'idling', added: 1, removed: 0, changed: 0 },
      ]),
    );
    expect(diff.byVehicle).toEqual([
      { fleetId: 'acme', vehicleId: 'car-2', added: 1, removed: 1, changed: 0 },
      { fleetId: 'acme', vehicleId: 'car-1', added: 0, removed: 0, changed: 1 },
    ]);
  });

  it('lists the first differences by start time, with the fields that changed', () => {
    expect(diff.differences.map(({ kind, ruleId }) => [kind, ruleId])).toEqual([
      ['removed', 'overspeed'],
      ['changed', 'overheat'],
    ]);
    expect(diff.differences[1]!.fields).toEqual(['status']);
  });
});
