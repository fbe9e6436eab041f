import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  Res,
} from '@nestjs/common';
import type { Response } from 'express';
import { Principal, RequireRole, type ApiPrincipal } from '../auth/require-role';
import { ZodValidationPipe } from '../http/zod-validation.pipe';
import { Operation } from '../openapi/operation';
import {
  RuleDryRunService,
  dryRunSchema,
  type DryRunRequest,
  type DryRunResult,
} from './rule-dry-run.service';
import { ruleQuerySchema, ruleWriteQuerySchema, type RuleQuery, type RuleWriteQuery } from './rule-query';
import { RulesService, ruleDocumentSchema, type RuleDocument, type RuleWithHistory } from './rules.service';
import type { CurrentRule } from './rules-topic';

/** The rule version as an entity tag: what If-Match names on the next change. */
function tagged<T extends CurrentRule>(response: Response, current: T): T {
  response.setHeader('ETag', `"${current.rule.version}"`);
  return current;
}

@Controller('rules')
export class RulesController {
  constructor(
    private readonly rules: RulesService,
    private readonly dryRuns: RuleDryRunService,
  ) {}

  @Get()
  @Operation({
    summary: 'The rules as they stand, filtered by enabled, severity, fleet in scope, text in id or name',
  })
  list(@Query(new ZodValidationPipe(ruleQuerySchema)) query: RuleQuery): CurrentRule[] {
    return this.rules.list(query);
  }

  @Get(':id')
  @Operation({ summary: 'A rule as it stands (ETag: its version) and its history from the audit trail' })
  async get(
    @Param('id') id: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<RuleWithHistory> {
    return tagged(response, await this.rules.get(id));
  }

  @Post()
  @RequireRole('operator')
  @Operation({
    summary:
      'Creates a rule (docs/rule.v1.schema.json) at the next version; 409 if the id exists; 422 if it would hold for nearly every recent message of nearly every vehicle, unless acceptBroadMatch=true',
  })
  async create(
    @Body(new ZodValidationPipe(ruleDocumentSchema)) body: RuleDocument,
    @Query(new ZodValidationPipe(ruleWriteQuerySchema)) query: RuleWriteQuery,
    @Principal() principal: ApiPrincipal,
    @Res({ passthrough: true }) response: Response,
  ): Promise<CurrentRule> {
    const options = { refuseBroadMatch: !query.acceptBroadMatch, refuseUnknownTargets: true };
    return tagged(response, await this.rules.create(body, principal.name, options));
  }

  @Post('test')
  @HttpCode(200)
  @RequireRole('operator')
  @Operation({
    summary: 'Dry run: the alerts a draft rule would have raised over recorded telemetry',
    status: 200,
  })
  test(@Body(new ZodValidationPipe(dryRunSchema)) body: DryRunRequest): Promise<DryRunResult> {
    return this.dryRuns.run(body);
  }

  @Put(':id')
  @RequireRole('operator')
  @Operation({
    summary:
      "A new version of the rule; If-Match (or the body's version) must be the current one, else 409; broad rules as on create",
  })
  async update(
    @Param('id') id: string,
    @Body(new ZodValidationPipe(ruleDocumentSchema)) body: RuleDocument,
    @Query(new ZodValidationPipe(ruleWriteQuerySchema)) query: RuleWriteQuery,
    @Headers('if-match') ifMatch: string | undefined,
    @Principal() principal: ApiPrincipal,
    @Res({ passthrough: true }) response: Response,
  ): Promise<CurrentRule> {
    const options = { refuseBroadMatch: !query.acceptBroadMatch, refuseUnknownTargets: true };
    return tagged(response, await this.rules.update(id, body, ifMatch, principal.name, options));
  }

  @Post(':id/disable')
  @HttpCode(200)
  @RequireRole('operator')
  @Operation({ summary: 'Disables the rule (a new version); If-Match optional', status: 200 })
  async disable(
    @Param('id') id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Principal() principal: ApiPrincipal,
    @Res({ passthrough: true }) response: Response,
  ): Promise<CurrentRule> {
    return tagged(response, await this.rules.setEnabled(id, false, ifMatch, principal.name));
  }

  @Post(':id/enable')
  @HttpCode(200)
  @RequireRole('operator')
  @Operation({ summary: 'Enables the rule (a new version); If-Match optional', status: 200 })
  async enable(
    @Param('id') id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Principal() principal: ApiPrincipal,
    @Res({ passthrough: true }) response: Response,
  ): Promise<CurrentRule> {
    return tagged(response, await this.rules.setEnabled(id, true, ifMatch, principal.name));
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireRole('operator')
  @Operation({
    summary: 'Deletes the rule (a tombstone on fleet.rules; the audit trail keeps its history)',
    status: 204,
  })
  delete(
    @Param('id') id: string,
    @Headers('if-match') ifMatch: string | undefined,
    @Principal() principal: ApiPrincipal,
  ): Promise<void> {
    return this.rules.delete(id, ifMatch, principal.name);
  }
}
