import { Body, Controller, Delete, Get, HttpCode, Param, Put, Query } from '@nestjs/common';
import { maxVehicleTags, type VehicleRecord } from '@fleetlog/contracts';
import { z } from 'zod';
import { Principal, RequireRole, type ApiPrincipal } from '../auth/require-role';
import { deviceId } from '../http/device-id';
import { ZodValidationPipe } from '../http/zod-validation.pipe';
import { Operation } from '../openapi/operation';
import {
  vehicleInputSchema,
  vehicleQuerySchema,
  vehicleRecordSchema,
  type VehicleInput,
  type VehicleQuery,
} from './vehicle-schemas';
import { VehiclesService } from './vehicles.service';

const identifier = new ZodValidationPipe(deviceId);

@Controller('vehicles')
export class VehiclesController {
  constructor(private readonly vehicles: VehiclesService) {}

  @Get()
  @Operation({
    summary: 'Vehicles with tags, by fleet then vehicle; filtered by fleet and by tag',
    response: z.array(vehicleRecordSchema),
  })
  list(@Query(new ZodValidationPipe(vehicleQuerySchema)) query: VehicleQuery): VehicleRecord[] {
    return this.vehicles.list(query);
  }

  @Get(':fleetId/:vehicleId')
  @Operation({ summary: "A vehicle's tags; 404 if it has none recorded", response: vehicleRecordSchema })
  get(
    @Param('fleetId', identifier) fleetId: string,
    @Param('vehicleId', identifier) vehicleId: string,
  ): VehicleRecord {
    return this.vehicles.get(fleetId, vehicleId);
  }

  @Put(':fleetId/:vehicleId')
  @RequireRole('operator')
  @Operation({
    summary: `Sets a vehicle's tags (distinct, lower case, at most ${maxVehicleTags}), replacing those it had`,
    response: vehicleRecordSchema,
  })
  put(
    @Param('fleetId', identifier) fleetId: string,
    @Param('vehicleId', identifier) vehicleId: string,
    @Body(new ZodValidationPipe(vehicleInputSchema)) body: VehicleInput,
    @Principal() principal: ApiPrincipal,
  ): Promise<VehicleRecord> {
    return this.vehicles.put(fleetId, vehicleId, body, principal);
  }

  @Delete(':fleetId/:vehicleId')
  @HttpCode(204)
  @RequireRole('operator')
  @Operation({ summary: "Forgets a vehicle's tags (a tombstone on fleet.vehicles)", status: 204 })
  delete(
    @Param('fleetId', identifier) fleetId: string,
    @Param('vehicleId', identifier) vehicleId: string,
  ): Promise<void> {
    return this.vehicles.delete(fleetId, vehicleId);
  }
}
