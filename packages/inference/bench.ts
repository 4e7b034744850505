// The inference benchmark lives in src/bench.ts (so it is type-checked and linted with the package);
// this entry point is where `npm run bench` can find it.
export { benchInference } from './src/bench.ts';
export type { InferenceBenchOptions, InferenceBenchResult, LatencyStats } from './src/bench.ts';
