import { inRunsOfAtMost, recordBytes } from './produce-size';

describe('inRunsOfAtMost', () => {
  const record = (key: string, value: string) => ({ key, value });

  it('keeps records in order in runs whose keys and values stay within the limit', () => {
    const records = ['aaaa', 'bbbb', 'cccc', 'dddd', 'eeee'].map((value, n) => record(`k${n}`, value));
    const runs = inRunsOfAtMost(records, 12);
    expect(runs.map((run) => run.map(({ value }) => value))).toEqual([
      ['aaaa', 'bbbb'],
      ['cccc', 'dddd'],
      ['eeee'],
    ]);
    for (const run of runs)
      expect(run.reduce((sum, each) => sum + recordBytes(each), 0)).toBeLessThanOrEqual(12);
  });

  it('sends a record larger than the limit on its own rather than dropping or splitting it', () => {
    const runs = inRunsOfAtMost([record('a', 'x'), record('b', 'y'.repeat(50)), record('c', 'z')], 10);
    expect(runs.map((run) => run.map(({ key }) => key))).toEqual([['a'], ['b'], ['c']]);
  });

  it('counts bytes, not characters, so multi-byte text cannot slip past the limit', () => {
    expect(recordBytes(record('k', 'é'))).toBe(3);
    expect(recordBytes({ key: undefined, value: Buffer.alloc(7) })).toBe(7);
    expect(inRunsOfAtMost([record('', 'éé'), record('', 'éé')], 6)).toHaveLength(2);
  });

  it('gives no runs for no records', () => {
    expect(inRunsOfAtMost([], 10)).toEqual([]);
  });
});
