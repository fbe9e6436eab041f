import { z } from 'zod';
import { deviceIdPattern } from '@fleetlog/contracts';

/** A fleet or vehicle id as the api accepts it: the syntax of the device topics it comes from. */
export const deviceId = z.string().regex(deviceIdPattern, '1 to 64 letters, digits, _ or -');
