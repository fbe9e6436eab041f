import { Module } from '@nestjs/common';
import { RulesModule } from '../rules/rules.module';
import { JobAlertsRepository } from './job-alerts.repository';
import { JobOffsets } from './job-offsets';
import { JobsTopic } from './jobs-topic';
import { ReplayPromotionService } from './replay-promotion.service';
import { ReplaysController } from './replays.controller';
import { ReplaysService } from './replays.service';

/** Replay jobs (fleet.jobs): start, progress, promotion, abort, cleanup and the diff of two versions' alerts. */
@Module({
  imports: [RulesModule],
  controllers: [ReplaysController],
  providers: [JobsTopic, JobOffsets, JobAlertsRepository, ReplaysService, ReplayPromotionService],
})
export class ReplaysModule {}
