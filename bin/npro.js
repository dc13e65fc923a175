#!/usr/bin/env node
// The `npro` command (behaviour.md §2): runs the compiled CLI in dist/ (made by `npm run build`).
const entry = new URL('../dist/src/service/cli/main.js', import.meta.url);
let cli;
try {
  cli = await import(entry.href);
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/service/cli/main.js')) {
    process.stderr.write('npro: the compiled program is missing (dist/); run "npm run build" in the npro directory\n');
    process.exit(1);
  }
  throw err;
}
await cli.run();
