import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { Principal, RequireRole, type ApiPrincipal } from '../auth/require-role';
import { ZodValidationPipe } from '../http/zod-validation.pipe';
import { Operation } from '../openapi/operation';
import { ReplayPromotionService } from './replay-promotion.service';
import { ReplaysService, type StartReplay } from './replays.service';

/** Lower case: it names Elasticsearch indices (`fleet-alerts-<version>`) and a consumer group. */
const jobVersion = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, '1 to 32 lower-case letters, digits, _ or -');
const versionParam = new ZodValidationPipe(jobVersion);

const startReplaySchema = z.strictObject({
  version: jobVersion,
  rules: z
    .array(z.looseObject({}))
    .max(1_000)
    .optional()
    .describe(
      'Rule documents (docs/rule.v1.schema.json) the replay evaluates; absent, it follows fleet.rules',
    ),
  from: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('Read the log from this time; absent, from its start'),
});

const partitionProgressSchema = z.object({
  partition: z.number().int(),
  start: z.number().int(),
  committed: z.number().int().optional(),
  end: z.number().int(),
  done: z.number().int(),
  total: z.number().int(),
  lag: z.number().int(),
});

const jobSchema = z.looseObject({
  version: z.string(),
  state: z.enum(['replaying', 'promoting', 'live', 'retired', 'aborted']),
  rules: z.array(z.looseObject({})).optional(),
  from: z.iso.datetime().optional(),
  handover: z.record(z.string(), z.string()).optional(),
  previous: z.string().optional(),
  changedBy: z.string(),
  changedAt: z.iso.datetime(),
  progress: z.object({
    partitions: z.array(partitionProgressSchema),
    done: z.number().int(),
    total: z.number().int(),
    lag: z.number().int(),
    eventsPerSecond: z.number(),
    etaSeconds: z.number().nullable(),
  }),
});

const promotionSchema = z.object({
  version: z.string(),
  state: z.literal('live'),
  previous: z.string(),
  handover: z.record(z.string(), z.string()),
  rules: z.object({ created: z.number(), updated: z.number(), deleted: z.number() }).nullable(),
});

const promoteQuerySchema = z.strictObject({
  force: z.enum(['true', 'false']).default('false').describe('true: promote whatever the lag'),
});

const diffQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(0).max(1_000).default(50).describe('How many differences to list'),
});

const counts = { added: z.number().int(), removed: z.number().int(), changed: z.number().int() };
const diffSchema = z.object({
  from: z.string(),
  to: z.string(),
  alerts: z.object({ from: z.number().int(), to: z.number().int() }),
  totals: z.object({ ...counts, unchanged: z.number().int() }),
  byRule: z.array(z.object({ ruleId: z.string(), ...counts })),
  byVehicle: z.array(z.object({ fleetId: z.string(), vehicleId: z.string(), ...counts })),
  differences: z.array(z.looseObject({ kind: z.enum(['added', 'removed', 'changed']) })),
});

@Controller('replays')
export class ReplaysController {
  constructor(
    private readonly replays: ReplaysService,
    private readonly promotions: ReplayPromotionService,
  ) {}

  @Get()
  @Operation({
    summary: 'The cep jobs on fleet.jobs, each with its progress through the log',
    response: z.array(jobSchema),
  })
  list() {
    return this.replays.list();
  }

  @Get(':version')
  @Operation({
    summary: 'A job and its progress: per partition start, committed and end offsets and lag; events/s; ETA',
    response: jobSchema,
  })
  get(@Param('version', versionParam) version: string) {
    return this.replays.get(version);
  }

  @Post()
  @RequireRole('admin')
  @Operation({
    summary:
      'Starts a replay of the log into a new version (409 if the version exists, 422 naming broken rules)',
    response: jobSchema,
  })
  start(
    @Body(new ZodValidationPipe(startReplaySchema)) body: StartReplay,
    @Principal() principal: ApiPrincipal,
  ) {
    return this.replays.start(body, principal);
  }

  @Post(':version/promote')
  @HttpCode(200)
  @RequireRole('admin')
  @Operation({
    summary:
      'Makes a caught-up replay (or a retired job: a rollback) live: stops the live job, records the handover, writes its rules, swaps the read aliases',
    response: promotionSchema,
    status: 200,
  })
  promote(
    @Param('version', versionParam) version: string,
    @Query(new ZodValidationPipe(promoteQuerySchema)) query: z.infer<typeof promoteQuerySchema>,
    @Principal() principal: ApiPrincipal,
  ) {
    return this.promotions.promote(version, query.force === 'true', principal);
  }

  @Post(':version/abort')
  @HttpCode(200)
  @RequireRole('admin')
  @Operation({ summary: 'Stops a replay (its indices stay until cleanup)', status: 200 })
  abort(@Param('version', versionParam) version: string, @Principal() principal: ApiPrincipal) {
    return this.replays.abort(version, principal);
  }

  @Delete(':version/indices')
  @RequireRole('admin')
  @Operation({
    summary:
      "Cleanup of a retired or aborted job: deletes its indices, its consumer group's offsets and its record",
  })
  cleanup(@Param('version', versionParam) version: string) {
    return this.replays.cleanup(version);
  }

  @Get(':from/diff/:to')
  @Operation({
    summary:
      "Alerts added, removed and changed from one version's alert index to another's, per rule and vehicle",
    response: diffSchema,
  })
  diff(
    @Param('from', versionParam) from: string,
    @Param('to', versionParam) to: string,
    @Query(new ZodValidationPipe(diffQuerySchema)) query: z.infer<typeof diffQuerySchema>,
  ) {
    return this.replays.diff(from, to, query.limit);
  }
}
