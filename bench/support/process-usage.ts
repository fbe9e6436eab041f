import { readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second (USER_HZ): 100 on every Linux architecture Node supports. */
const ticksPerSecond = 100;

export interface UsageSample {
  at: number;
  /** utime + stime of each process, in seconds. */
  cpuSeconds: Map<string, number>;
  /** Busy time of the whole machine (all cores, everything but idle and iowait), in seconds. */
  machineBusySeconds: number;
}

/** The fields of /proc/<pid>/stat after the command name (which may contain spaces; these do not). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * The process and its descendants: a service is sometimes a launcher and the process it started (Elasticsearch's
 * CLI starts the server JVM as its child), and its CPU and memory are theirs together. Descendants that are measured
 * on their own (`separate`: the apps a bench started) are left out, with theirs.
 */
function processTree(root: number, separate: ReadonlySet<number> = new Set()): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const parent = Number(statFields(Number(entry))[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // ended while we looked
    }
  }
  const tree = [root];
  for (let index = 0; index < tree.length; index++)
    tree.push(...(children.get(tree[index]!) ?? []).filter((child) => !separate.has(child)));
  return tree;
}

/** CPU of the named processes (with their descendants), from /proc/<pid>/stat, and of the machine from /proc/stat. */
export function sampleUsage(pids: Map<string, number>): UsageSample {
  const cpuSeconds = new Map<string, number>();
  const measured = new Set(pids.values());
  for (const [name, pid] of pids) {
    const ticks = processTree(pid, measured).reduce((sum, member) => {
      const fields = readIfRunning(() => statFields(member));
      return fields ? sum + Number(fields[11]) + Number(fields[12]) : sum;
    }, 0);
    cpuSeconds.set(name, ticks / ticksPerSecond);
  }
  const machine = readFileSync('/proc/stat', 'utf8')
    .split('\n', 1)[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const idle = machine[3]! + machine[4]!;
  const total = machine.reduce((sum, value) => sum + value, 0);
  return { at: performance.now(), cpuSeconds, machineBusySeconds: (total - idle) / ticksPerSecond };
}

/** Cores used between two samples: 1.0 is one core fully busy. */
export function coresUsed(from: UsageSample, to: UsageSample): Record<string, number> {
  const seconds = (to.at - from.at) / 1000;
  const cores: Record<string, number> = {};
  for (const [name, cpu] of to.cpuSeconds) cores[name] = (cpu - from.cpuSeconds.get(name)!) / seconds;
  cores.machine = (to.machineBusySeconds - from.machineBusySeconds) / seconds;
  return cores;
}

/**
 * What `read` returns, or undefined for a process that has ended (its /proc entry is gone): a bench reports an app
 * that exited as a failure of the step rather than crashing on its next sample.
 */
function readIfRunning<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code === 'ENOENT' ||
      (error as NodeJS.ErrnoException).code === 'ESRCH'
    )
      return undefined;
    throw error;
  }
}

/** Resident memory of the process and its descendants (but those in `separate`). */
export function residentMiB(pid: number, separate: ReadonlySet<number> = new Set()): number {
  const kibibytes = processTree(pid, separate).reduce((sum, member) => {
    const status = readIfRunning(() => readFileSync(`/proc/${member}/status`, 'utf8'));
    return status === undefined ? sum : sum + Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN);
  }, 0);
  return kibibytes / 1024;
}

const referenceMessage = JSON.stringify({
  vehicleId: 'v-01234',
  fleetId: 'bench-reference',
  ts: '2026-01-01T00:00:00.000Z',
  seq: 12345,
  position: { lat: 52.512345, lon: 13.412345 },
  speedKph: 54.2,
  rpm: 2100,
});

/**
 * Microseconds for a fixed piece of work (parse and serialise a telemetry message), run when the machine is
 * otherwise quiet. On a shared VM the same work takes a varying time as the host's other tenants come and go;
 * this tells whether a step ran on a fast or a slow machine.
 */
export function referenceWorkMicroseconds(): number {
  const rounds = 20_000;
  let fastest = Number.POSITIVE_INFINITY;
  let length = 0;
  // The fastest of a few runs: the first ones include compilation, and any one may be interrupted.
  for (let run = 0; run < 5; run++) {
    const start = performance.now();
    for (let round = 0; round < rounds; round++)
      length += JSON.stringify(JSON.parse(referenceMessage)).length;
    fastest = Math.min(fastest, ((performance.now() - start) * 1000) / rounds);
  }
  if (length === 0) throw new Error('unreachable: keeps the loop from being optimised away');
  return fastest;
}
