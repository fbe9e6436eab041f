export type ReadinessProbe = () => boolean | Promise<boolean>;

export interface HealthReport {
  status: 'ok' | 'unavailable';
  checks: Record<string, 'up' | 'down'>;
}

/** Components register what "ready" means for them (consumer joined, broker connected, ...); /health asks them all. */
export class HealthRegistry {
  private readonly probes = new Map<string, ReadinessProbe>();

  register(name: string, probe: ReadinessProbe): void {
    this.probes.set(name, probe);
  }

  async report(): Promise<HealthReport> {
    const checks: HealthReport['checks'] = {};
    for (const [name, probe] of this.probes) {
      checks[name] = await Promise.resolve()
        .then(probe)
        .then(
          (up) => (up ? 'up' : 'down'),
          () => 'down',
        );
    }
    return { status: Object.values(checks).every((check) => check === 'up') ? 'ok' : 'unavailable', checks };
  }
}
