import { Injectable, NotFoundException } from '@nestjs/common';
import type { AlertMessage, AlertSeverity } from '@fleetlog/contracts';
import type { ApiPrincipal } from '../auth/require-role';
import { AcknowledgementsRepository, type Acknowledgement } from './acknowledgements.repository';
import { AlertsRepository } from './alerts.repository';

export interface AlertSearch {
  vehicleId?: string;
  fleetId?: string;
  ruleId?: string;
  severity?: AlertSeverity;
  /** `acknowledged`: alerts an operator acknowledged, whether active or cleared. */
  status?: 'active' | 'cleared' | 'acknowledged';
  from?: string;
  to?: string;
  limit: number;
  offset: number;
}

export type AlertView = AlertMessage & { acknowledged?: Omit<Acknowledgement, 'alertId'> };

/** Alerts joined with their acknowledgements, which are stored apart (see AcknowledgementsRepository). */
@Injectable()
export class AlertsService {
  constructor(
    private readonly alerts: AlertsRepository,
    private readonly acknowledgements: AcknowledgementsRepository,
  ) {}

  async search({
    status,
    limit,
    offset,
    ...filter
  }: AlertSearch): Promise<{ total: number; alerts: AlertView[] }> {
    const page =
      status === 'acknowledged'
        ? await this.alerts.search(
            { ...filter, alertIds: await this.acknowledgements.acknowledgedAlertIds() },
            { limit, offset },
          )
        : await this.alerts.search({ ...filter, status }, { limit, offset });
    const acknowledged = await this.acknowledgements.find(page.alerts.map((alert) => alert.alertId));
    return {
      total: page.total,
      alerts: page.alerts.map((alert) => {
        const acknowledgement = acknowledged.get(alert.alertId);
        if (!acknowledgement) return alert;
        const { by, at, comment } = acknowledgement;
        return { ...alert, acknowledged: { by, at, comment } };
      }),
    };
  }

  async acknowledge(
    alertId: string,
    comment: string | undefined,
    by: ApiPrincipal,
  ): Promise<Acknowledgement> {
    if (!(await this.alerts.exists(alertId))) throw new NotFoundException(`No alert ${alertId}.`);
    const acknowledgement = {
      alertId,
      by: by.name,
      at: new Date().toISOString(),
      ...(comment && { comment }),
    };
    await this.acknowledgements.create(acknowledgement);
    return acknowledgement;
  }
}
