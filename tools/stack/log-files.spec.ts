import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setAsideLargeLog } from './log-files.ts';

describe('setAsideLargeLog', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleetlog-log-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('moves a log over the limit to .1, replacing the one set aside before', async () => {
    const log = join(dir, 'kafka.log');
    await writeFile(`${log}.1`, 'older start');
    await writeFile(log, 'x'.repeat(101));
    await setAsideLargeLog(log, 100);
    expect(await readdir(dir)).toEqual(['kafka.log.1']);
    expect(await readFile(`${log}.1`, 'utf8')).toHaveLength(101);
  });

  it('keeps appending to a log within the limit', async () => {
    const log = join(dir, 'kafka.log');
    await writeFile(log, 'x'.repeat(100));
    await setAsideLargeLog(log, 100);
    expect(await readdir(dir)).toEqual(['kafka.log']);
  });

  it('does nothing when the server never wrote a log', async () => {
    await setAsideLargeLog(join(dir, 'kafka.log'), 100);
    expect(await readdir(dir)).toEqual([]);
  });
});
