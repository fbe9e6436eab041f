import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

/** What a result is worth only with: when, on what, and how busy the shared machine was. */
export function machineDescription(loadAtStart: number[]) {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    loadAverage: { atStart: loadAtStart, atEnd: loadavg() },
  };
}

/** Writes bench-results/<name>.json (not committed) and says where. */
export function writeReport(name: string, report: object): void {
  const file = `bench-results/${name}.json`;
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`written to ${file}\n`);
}
