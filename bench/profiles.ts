/** Sizes and durations of one benchmark run. */
export interface Profile {
  readonly name: 'smoke' | 'quick' | 'full';
  readonly backlogs: readonly number[];
  readonly stepRates: readonly number[];
  /** Number of steps between the highest passing and the lowest failing rate, after the ladder. */
  readonly stepRefinements: number;
  readonly warmMs: number;
  readonly measureMs: number;
  readonly fanOutKs: readonly number[];
  /** Deliveries per second B0 offers to 100 endpoints in the calibration. */
  readonly calibrationFanOutRate: number;
  /** Deliveries per second offered in the isolation workload. */
  readonly isolationRate: number;
  readonly isolationFaults: readonly string[];
  readonly isolationMs: number;
  readonly crashBacklog: number;
  readonly crashRounds: number;
  readonly undiciConnections: readonly number[];
  readonly bullmqConcurrency: readonly number[];
  /** Backlog used to pick the best B0 connections and B2 concurrency. */
  readonly sweepBacklog: number;
  /** Whole-attempt timeout for every contender. */
  readonly timeoutMs: number;
  readonly ingestMs: number;
  readonly drainTimeoutMs: number;
  /** Extra wait for a durable contender's deliveries still pending at a cell's cut-off. */
  readonly graceMs: number;
  /** Runs the service once more with SQLite synchronous=FULL. */
  readonly syncFull: boolean;
  readonly redisAof: boolean;
}

export const PROFILES: Readonly<Record<Profile['name'], Profile>> = {
  smoke: {
    name: 'smoke',
    backlogs: [200],
    stepRates: [100],
    stepRefinements: 0,
    warmMs: 300,
    measureMs: 700,
    fanOutKs: [1, 10],
    calibrationFanOutRate: 800,
    isolationRate: 200,
    isolationFaults: ['none', 'hang'],
    isolationMs: 1_000,
    crashBacklog: 300,
    crashRounds: 1,
    undiciConnections: [4],
    bullmqConcurrency: [50],
    sweepBacklog: 200,
    timeoutMs: 1_000,
    ingestMs: 200,
    drainTimeoutMs: 20_000,
    graceMs: 20_000,
    syncFull: false,
    redisAof: false,
  },
  quick: {
    name: 'quick',
    backlogs: [10_000, 50_000],
    // 250 precedes the design's 500 so a machine shared with other work still yields a rate,
    // and 1,500 and 3,000 split the doublings where the service's rate falls.
    stepRates: [250, 500, 1_000, 1_500, 2_000, 3_000, 4_000, 8_000, 16_000],
    stepRefinements: 1,
    warmMs: 1_000,
    measureMs: 3_000,
    fanOutKs: [1, 10, 100],
    calibrationFanOutRate: 4_000,
    isolationRate: 400,
    isolationFaults: ['none', 'slow', 'hang', 'error', 'reset'],
    isolationMs: 4_000,
    crashBacklog: 10_000,
    crashRounds: 3,
    undiciConnections: [1, 4, 16, 64],
    bullmqConcurrency: [10, 50, 200],
    sweepBacklog: 10_000,
    timeoutMs: 5_000,
    ingestMs: 1_500,
    drainTimeoutMs: 15_000,
    graceMs: 60_000,
    syncFull: true,
    redisAof: true,
  },
  full: {
    name: 'full',
    backlogs: [10_000, 100_000, 1_000_000],
    stepRates: [500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000],
    stepRefinements: 2,
    warmMs: 5_000,
    measureMs: 15_000,
    fanOutKs: [1, 10, 100],
    calibrationFanOutRate: 8_000,
    isolationRate: 1_000,
    isolationFaults: ['none', 'slow', 'hang', 'error', 'reset'],
    isolationMs: 20_000,
    crashBacklog: 50_000,
    crashRounds: 10,
    undiciConnections: [1, 4, 16, 64],
    bullmqConcurrency: [10, 50, 200],
    sweepBacklog: 50_000,
    timeoutMs: 5_000,
    ingestMs: 5_000,
    drainTimeoutMs: 60_000,
    graceMs: 120_000,
    syncFull: true,
    redisAof: true,
  },
};
