import type { WebhookDeliveryDue, WebhookDeliverySettled } from '@fleetlog/contracts';
import { DeliveryLedger } from './delivery-ledger';

const now = new Date('2026-12-03T06:00:00Z');
const later = new Date('2026-12-03T07:00:00Z');

function due(targetId: string, attempt = 1, dueAt = now, ruleId = 'overspeed'): WebhookDeliveryDue {
  return {
    kind: 'due',
    webhookId: 'alert-1.active',
    targetId,
    attempt,
    dueAt: dueAt.toISOString(),
    history: [],
    alert: { ruleId } as WebhookDeliveryDue['alert'],
  };
}

function settled(targetId: string): WebhookDeliverySettled {
  return {
    kind: 'settled',
    webhookId: 'alert-1.active',
    targetId,
    outcome: 'delivered',
    settledAt: now.toISOString(),
  };
}

const keyOf = (targetId: string) => `${targetId}/alert-1.active`;

/** Partition 0 read from its beginning, then caught up at `end`. */
function readAll(ledger: DeliveryLedger, records: Array<WebhookDeliveryDue | WebhookDeliverySettled>): void {
  ledger.restart(0);
  records.forEach((record, offset) => ledger.read(0, BigInt(offset), keyOf(record.targetId), record));
  ledger.advance(0, BigInt(records.length), BigInt(records.length));
}

/** Nothing to attempt now or later: the delivery was made, or never owed. */
function expectNothingOwed(ledger: DeliveryLedger): void {
  expect(ledger.takeDue(now, 10)).toEqual([]);
  expect(ledger.size).toBe(0);
}

describe('DeliveryLedger', () => {
  it('owes the latest record of each key: a later due replaces an earlier one, settled ends the delivery', () => {
    const ledger = new DeliveryLedger();
    readAll(ledger, [due('a'), due('b'), due('a', 2), settled('b')]);
    expect(ledger.takeDue(now, 10).map((delivery) => [delivery.key, delivery.due.attempt])).toEqual([
      [keyOf('a'), 2],
    ]);
  });

  it('hands out nothing before the partition is read to its end, so a settled record further on is seen first', () => {
    const ledger = new DeliveryLedger();
    ledger.restart(0);
    ledger.read(0, 0n, keyOf('a'), due('a'));
    ledger.advance(0, 1n, 2n);
    expect(ledger.takeDue(now, 10)).toEqual([]);
    ledger.read(0, 1n, keyOf('a'), settled('a'));
    ledger.advance(0, 2n, 2n);
    expectNothingOwed(ledger);
  });

  it('holds a retry until it is due', () => {
    const ledger = new DeliveryLedger();
    readAll(ledger, [due('a', 2, later)]);
    expect(ledger.takeDue(now, 10)).toEqual([]);
    expect(ledger.takeDue(later, 10)).toHaveLength(1);
  });

  it('lets a target have only so many attempts in flight, without holding back other targets', () => {
    const ledger = new DeliveryLedger();
    ledger.restart(0);
    ['1', '2', '3'].forEach((n, offset) =>
      ledger.read(0, BigInt(offset), `slow/${n}`, { ...due('slow'), webhookId: n }),
    );
    ledger.read(0, 3n, keyOf('fast'), due('fast'));
    ledger.advance(0, 4n, 4n);
    const taken = ledger.takeDue(now, 2).map((delivery) => delivery.key);
    expect(taken).toHaveLength(3);
    expect(taken).toContain(keyOf('fast'));
    expect(ledger.takeDue(now, 2)).toEqual([]);
  });

  it('lets the rules at a target take turns, so a storm of one rule holds another rule back by one turn only', () => {
    const ledger = new DeliveryLedger();
    ledger.restart(0);
    const secondsAgo = (seconds: number) => new Date(now.getTime() - seconds * 1_000);
    [40, 30, 20, 10].forEach((age, offset) =>
      ledger.read(0, BigInt(offset), `t/offline-${age}`, {
        ...due('t', 1, secondsAgo(age), 'vehicle-offline'),
        webhookId: `offline-${age}`,
      }),
    );
    ledger.advance(0, 4n, 4n);
    const storm = ledger.takeDue(now, 2);
    expect(storm.map(({ key }) => key)).toEqual(['t/offline-40', 't/offline-30']);
    // Due after the whole storm, and yet next: the storm already has its turns in flight.
    ledger.read(0, 4n, 't/overspeed', { ...due('t', 1, now, 'overspeed'), webhookId: 'overspeed' });
    ledger.advance(0, 5n, 5n);
    ledger.answered(storm[0]!);
    expect(ledger.takeDue(now, 2).map(({ key }) => key)).toEqual(['t/overspeed']);
    ledger.answered(storm[1]!);
    expect(ledger.takeDue(now, 2).map(({ key }) => key)).toEqual(['t/offline-20']);
  });

  it('counts against a target only attempts it has not answered, never handing one out again before it settles', () => {
    const ledger = new DeliveryLedger();
    ledger.restart(0);
    ['1', '2', '3'].forEach((n, offset) =>
      ledger.read(0, BigInt(offset), `slow/${n}`, {
        ...due('slow', 1, new Date(now.getTime() - 3_000 + offset * 1_000)),
        webhookId: n,
      }),
    );
    ledger.advance(0, 3n, 3n);
    const [first, second] = ledger.takeDue(now, 2);
    expect(ledger.takeDue(now, 2)).toEqual([]);
    // The first attempt was answered; its outcome is still being stored.
    ledger.answered(first!);
    expect(ledger.takeDue(now, 2).map(({ key }) => key)).toEqual(['slow/3']);
    expect(ledger.takeDue(now, 2)).toEqual([]);
    ledger.answered(second!);
    ledger.settle(first!, 10n);
    expect(ledger.takeDue(now, 2)).toEqual([]);
    expect(ledger.size).toBe(2);
  });

  it('commits no further than the oldest delivery still owed or in flight', () => {
    const ledger = new DeliveryLedger();
    readAll(ledger, [due('a'), due('b', 1, later), settled('a')]);
    expect(ledger.commitOffsets()).toEqual(new Map([[0, 1n]]));
    const [inFlight] = ledger.takeDue(later, 10);
    expect(ledger.commitOffsets()).toEqual(new Map([[0, 1n]]));
    ledger.settle(inFlight!, 3n);
    expect(ledger.commitOffsets()).toEqual(new Map([[0, 3n]]));
  });

  it('after a restart, ignores records older than the follow-up an attempt in flight already stored', () => {
    const ledger = new DeliveryLedger();
    readAll(ledger, [due('a')]);
    const [delivery] = ledger.takeDue(now, 10);
    // The group rebalances while the attempt runs: the partition is read again from its committed offset.
    ledger.restart(0);
    ledger.read(0, 0n, keyOf('a'), due('a'));
    ledger.advance(0, 1n, 1n);
    expect(ledger.takeDue(now, 10)).toEqual([]);
    ledger.settle(delivery!, 1n);
    ledger.restart(0);
    ledger.read(0, 0n, keyOf('a'), due('a'));
    expect(ledger.size).toBe(0);
    ledger.read(0, 1n, keyOf('a'), due('a', 2, later));
    ledger.advance(0, 2n, 2n);
    expect(ledger.takeDue(later, 10).map(({ due: { attempt } }) => attempt)).toEqual([2]);
  });

  it('takes a delivery handed over by the fan-out before its partition is read that far, once', () => {
    const ledger = new DeliveryLedger();
    readAll(ledger, []);
    ledger.handOver(0, 0n, keyOf('a'), due('a'));
    const [delivery] = ledger.takeDue(now, 10);
    expect(delivery?.key).toBe(keyOf('a'));
    ledger.read(0, 0n, keyOf('a'), due('a'));
    ledger.advance(0, 1n, 1n);
    ledger.settle(delivery!, 1n);
    ledger.read(0, 1n, keyOf('a'), settled('a'));
    ledger.advance(0, 2n, 2n);
    expectNothingOwed(ledger);
  });

  it('ignores a hand-over that comes after the partition was read past it: the delivery read there was already made', () => {
    const ledger = new DeliveryLedger();
    readAll(ledger, [due('a')]);
    const [delivery] = ledger.takeDue(now, 10);
    ledger.settle(delivery!, 1n);
    ledger.read(0, 1n, keyOf('a'), settled('a'));
    ledger.advance(0, 2n, 2n);
    // The fan-out's commit returned late, after the worker had read, attempted and settled the same record.
    ledger.handOver(0, 0n, keyOf('a'), due('a'));
    expectNothingOwed(ledger);
  });

  it('owes a delivery again when its outcome could not be stored', () => {
    const ledger = new DeliveryLedger();
    readAll(ledger, [due('a')]);
    const [delivery] = ledger.takeDue(now, 10);
    ledger.release(delivery!);
    expect(ledger.takeDue(now, 10).map(({ key }) => key)).toEqual([keyOf('a')]);
  });

  it('forgets a revoked partition', () => {
    const ledger = new DeliveryLedger();
    readAll(ledger, [due('a')]);
    ledger.revoke(0);
    expect(ledger.size).toBe(0);
    expect(ledger.commitOffsets()).toEqual(new Map());
  });
});
