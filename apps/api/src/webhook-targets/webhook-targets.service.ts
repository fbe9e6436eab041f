import { randomBytes } from 'node:crypto';
import { Injectable, NotFoundException } from '@nestjs/common';
import type { WebhookTarget } from '@fleetlog/contracts';
import type { ApiPrincipal } from '../auth/require-role';
import { Problem } from '../http/problem';
import { WebhookTargetsTopic } from './webhook-targets.topic';

export type WebhookTargetInput = Pick<WebhookTarget, 'url' | 'enabled' | 'filters' | 'allowPrivateNetwork'>;
/** What reads return: the secret is shown on create and rotate only. */
export type WebhookTargetView = Omit<WebhookTarget, 'secret'>;

/** Standard Webhooks secret: 32 random bytes. */
function generateSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

function withoutSecret({ secret: _secret, ...view }: WebhookTarget): WebhookTargetView {
  return view;
}

@Injectable()
export class WebhookTargetsService {
  constructor(private readonly topic: WebhookTargetsTopic) {}

  list(): WebhookTargetView[] {
    return this.topic.list().map(withoutSecret);
  }

  get(id: string): WebhookTargetView {
    return withoutSecret(this.existing(id));
  }

  async create(input: WebhookTargetInput, by: ApiPrincipal): Promise<WebhookTarget> {
    permitNetwork(input, by);
    const target = this.record(`wht_${randomBytes(8).toString('hex')}`, input, generateSecret(), by);
    await this.topic.put(target);
    return target;
  }

  async replace(id: string, input: WebhookTargetInput, by: ApiPrincipal): Promise<WebhookTargetView> {
    permitNetwork(input, by);
    const target = this.record(id, input, this.existing(id).secret, by);
    await this.topic.put(target);
    return withoutSecret(target);
  }

  async rotateSecret(id: string, by: ApiPrincipal): Promise<WebhookTarget> {
    const target = this.record(id, this.existing(id), generateSecret(), by);
    await this.topic.put(target);
    return target;
  }

  async delete(id: string): Promise<void> {
    this.existing(id);
    await this.topic.delete(id);
  }

  private existing(id: string): WebhookTarget {
    const target = this.topic.get(id);
    if (!target) throw new NotFoundException(`No webhook target ${id}.`);
    return target;
  }

  private record(id: string, input: WebhookTargetInput, secret: string, by: ApiPrincipal): WebhookTarget {
    return {
      id,
      url: input.url,
      secret,
      enabled: input.enabled,
      filters: input.filters,
      allowPrivateNetwork: input.allowPrivateNetwork,
      changedBy: by.name,
      changedAt: new Date().toISOString(),
    };
  }
}

/** Reaching private, loopback or link-local addresses from the notifier is an admin's decision (SSRF). */
function permitNetwork(input: WebhookTargetInput, by: ApiPrincipal): void {
  if (input.allowPrivateNetwork && by.role !== 'admin') {
    throw new Problem(403, 'Forbidden', 'Only an admin may set allowPrivateNetwork.');
  }
}
