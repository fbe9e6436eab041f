import { rename, stat } from 'node:fs/promises';

/**
 * Moves a log over `limitBytes` to `<log>.1`, replacing the one set aside before, so that a stack restarted now and
 * then keeps two logs at most. Only between runs: the server writes its log through an open descriptor (and Kafka's
 * log4j through another), which a rename under a running server would leave writing to the old file. Kafka's log
 * grew past 400 MB over days of tests without it.
 */
export async function setAsideLargeLog(logFile: string, limitBytes: number): Promise<void> {
  const size = await stat(logFile).then(
    (stats) => stats.size,
    () => 0,
  );
  if (size > limitBytes) await rename(logFile, `${logFile}.1`);
}
