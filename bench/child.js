/**
 * Runs one benchmark in its own process (fresh heap and JIT, --expose-gc),
 * prints its lines to stdout and hands the result to the runner over IPC.
 * Usage (by run.js): node --expose-gc bench/child.js <name> '<options json>'
 */
const [name, json] = process.argv.slice(2);
const options = JSON.parse(json ?? '{}');
const bench = await import(`./${name}.js`);
const started = performance.now();
const result = await bench.run({ ...options, log: (line) => console.log(`  ${line}`) });
const report = {
  name,
  title: bench.title,
  durationS: Math.round(performance.now() - started) / 1000,
  ...result,
};
report.markdown = bench.markdown(report);
if (process.send) process.send(report, () => process.exit(0));
else console.log(JSON.stringify(report, null, 2));
