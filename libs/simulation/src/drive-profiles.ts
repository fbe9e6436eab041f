export interface DrivePhase {
  seconds: number;
  targetKph: number;
}

export type DriveProfileName = 'mixed' | 'urban' | 'highway';

/** Drive cycles the simulated vehicles loop through. */
export const driveProfiles: Record<DriveProfileName, (vehicleIndex: number) => DrivePhase[]> = {
  // Vehicles differ in how fast they drive on the highway: two of every four break a 120 km/h limit.
  mixed: (index) => [
    { seconds: 10, targetKph: 0 },
    { seconds: 60, targetKph: 45 },
    { seconds: 60, targetKph: [100, 110, 128, 136][index % 4]! },
    { seconds: 40, targetKph: 60 },
  ],
  urban: () => [
    { seconds: 20, targetKph: 0 },
    { seconds: 40, targetKph: 40 },
    { seconds: 15, targetKph: 0 },
    { seconds: 40, targetKph: 55 },
  ],
  highway: () => [
    { seconds: 60, targetKph: 130 },
    { seconds: 30, targetKph: 100 },
  ],
};
