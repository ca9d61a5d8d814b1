// `npm run bench` entry: runs the broker benchmark (bench/broker/run.ts) with the same flags,
// e.g. `npm run bench -- --quick`. Benchmarks of other components can be dispatched from here.
await import('./broker/run.ts');
