/**
 * The most record bytes (keys and values) one produce request carries. The broker refuses a record batch over its
 * `message.max.bytes` (1 MiB by default) for good, and kafkajs puts everything a send holds for one partition into
 * one batch: a notifier catching up on alerts fanned a fetch out into more than that, and its consumer stopped.
 * Half the default leaves room for record overhead and for one more record past the mark.
 */
export const maxProduceRequestBytes = 512 * 1024;

export function recordBytes({ key, value }: { key?: string | null; value: string | Buffer | null }): number {
  return (key ? Buffer.byteLength(key) : 0) + (value === null ? 0 : Buffer.byteLength(value));
}

/** Splits `records`, in order, into runs of at most `maxBytes` record bytes; a larger record goes alone. */
export function inRunsOfAtMost<T extends { key?: string | null; value: string | Buffer | null }>(
  records: readonly T[],
  maxBytes: number,
): T[][] {
  const runs: T[][] = [];
  let run: T[] = [];
  let runBytes = 0;
  for (const record of records) {
    const bytes = recordBytes(record);
    if (run.length > 0 && runBytes + bytes > maxBytes) {
      runs.push(run);
      run = [];
      runBytes = 0;
    }
    run.push(record);
    runBytes += bytes;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
