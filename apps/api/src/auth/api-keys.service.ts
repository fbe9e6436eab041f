import { Injectable, NotFoundException } from '@nestjs/common';
import { generateApiKey, generateKeyId, hashApiKey } from './api-key';
import { ApiKeyAuthenticator } from './api-key-authenticator';
import { ApiKeysRepository, type ApiKeyView } from './api-keys.repository';
import type { ApiPrincipal, ApiRole } from './require-role';

@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly authenticator: ApiKeyAuthenticator,
  ) {}

  /** The key is in the answer and nowhere else: only its hash is stored. */
  async create(
    request: { name: string; role: ApiRole },
    by: ApiPrincipal,
  ): Promise<ApiKeyView & { key: string }> {
    const key = generateApiKey();
    const view: ApiKeyView = {
      id: generateKeyId(),
      name: request.name,
      role: request.role,
      createdBy: by.name,
      createdAt: new Date().toISOString(),
    };
    await this.keys.create({ ...view, hash: hashApiKey(key) });
    return { ...view, key };
  }

  list(): Promise<ApiKeyView[]> {
    return this.keys.list();
  }

  async revoke(id: string): Promise<ApiKeyView> {
    const record = await this.keys.revoke(id, new Date().toISOString());
    if (!record) throw new NotFoundException(`No API key ${id}.`);
    const { hash, ...view } = record;
    this.authenticator.forget(hash);
    return view;
  }
}
