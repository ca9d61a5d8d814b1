// Loaded into a benchmarked broker process with `node --expose-gc --import <this file>`: on the
// IPC message 'heap' it collects garbage and answers with its heap and RSS, so a bench can measure
// what the broker's JavaScript heap holds, not only its RSS. Plain JavaScript, so it works for any
// checkout (BENCH_BASELINE_ROOT) and with or without tsx.
if (process.send !== undefined) {
  process.on('message', (m) => {
    if (m !== 'heap') return;
    globalThis.gc?.();
    const { heapUsed, rss } = process.memoryUsage();
    process.send?.({ heapUsed, rss });
  });
  // the channel must not keep the broker alive once it wants to exit (SIGTERM)
  process.channel?.unref();
}
