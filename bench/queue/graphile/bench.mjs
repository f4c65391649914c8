// The peer of crates/server/benches/queue.rs, measured the same way on the same server:
// add->start latency of one no-op job at a time into an idle worker (LISTEN/NOTIFY wake-up,
// slow poll), then no-op throughput of a pre-filled queue.
// Usage: BENCH_PG_URL=postgres://.../fresh_db node bench.mjs LATENCY_JOBS THROUGHPUT_JOBS CONCURRENCY
import { run, makeWorkerUtils } from "graphile-worker";

const connectionString = process.env.BENCH_PG_URL;
const latencyJobs = Number(process.argv[2] ?? 500);
const throughputJobs = Number(process.argv[3] ?? 3000);
const concurrency = Number(process.argv[4] ?? 8);
const warmup = 50;

let onStart = null;
let completed = 0;
let onComplete = null;
const taskList = {
  noop: async () => {
    const t = process.hrtime.bigint();
    if (onStart) onStart(t);
  },
};

const utils = await makeWorkerUtils({ connectionString });
await utils.migrate();

async function startRunner(conc) {
  const runner = await run({
    connectionString,
    concurrency: conc,
    noHandleSignals: true,
    pollInterval: 60_000,
    taskList,
    logger: new (await import("graphile-worker")).Logger(() => () => {}),
  });
  runner.events.on("job:complete", () => {
    completed += 1;
    if (onComplete) onComplete();
  });
  return runner;
}

// Latency.
let runner = await startRunner(2);
const samples = [];
for (let i = 0; i < warmup + latencyJobs; i++) {
  const started = new Promise((resolve) => (onStart = resolve));
  const done = completed + 1;
  const finished = new Promise((resolve) => {
    onComplete = () => completed >= done && resolve();
  });
  const t0 = process.hrtime.bigint();
  await utils.addJob("noop", { i });
  const t1 = await started;
  if (i >= warmup) samples.push(Number(t1 - t0) / 1e6);
  await finished;
}
onStart = null;
onComplete = null;
await runner.stop();

// Throughput.
const a0 = process.hrtime.bigint();
for (let i = 0; i < throughputJobs; i++) {
  await utils.addJob("noop", { i });
}
const addsPerS = throughputJobs / (Number(process.hrtime.bigint() - a0) / 1e9);
completed = 0;
const allDone = new Promise((resolve) => {
  onComplete = () => completed >= throughputJobs && resolve();
});
const r0 = process.hrtime.bigint();
runner = await startRunner(concurrency);
await allDone;
const jobsPerS = throughputJobs / (Number(process.hrtime.bigint() - r0) / 1e9);
await runner.stop();
await utils.release();

samples.sort((a, b) => a - b);
const pct = (p) => samples[Math.min(samples.length - 1, Math.round((p / 100) * (samples.length - 1)))];
const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
console.log(
  JSON.stringify({
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    max: samples[samples.length - 1],
    mean,
    adds_per_s: addsPerS,
    jobs_per_s: jobsPerS,
  }),
);
