import fc from 'fast-check';
import { DeadlineQueue } from './deadline-queue';

describe('DeadlineQueue', () => {
  it('pops exactly the items due by a time, earliest first', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1000 })),
        fc.integer({ min: 0, max: 1000 }),
        (dues, now) => {
          const queue = new DeadlineQueue<number>();
          dues.forEach((due, index) => queue.push(due, index));
          const popped: number[] = [];
          for (let entry = queue.popDue(now); entry; entry = queue.popDue(now)) {
            popped.push(entry.due);
            const next = queue.peek();
            if (next) expect(next.due).toBeGreaterThanOrEqual(entry.due);
          }
          expect(popped).toEqual(dues.filter((due) => due <= now).sort((a, b) => a - b));
          expect(queue.size).toBe(dues.filter((due) => due > now).length);
        },
      ),
    );
  });

  it('shows the earliest item without taking it out', () => {
    const queue = new DeadlineQueue<string>();
    expect(queue.peek()).toBeUndefined();
    queue.push(30, 'late');
    queue.push(10, 'early');
    queue.push(20, 'middle');
    expect(queue.peek()).toEqual({ due: 10, item: 'early' });
    expect(queue.size).toBe(3);
    expect(queue.popDue(10)).toEqual({ due: 10, item: 'early' });
    expect(queue.peek()).toEqual({ due: 20, item: 'middle' });
  });
});
