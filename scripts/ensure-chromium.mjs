// Makes sure a Chromium is installed for the browser tests (the upload page's end-to-end test calls this first).
// A developer machine usually has one already; a fresh CI machine starts bare, so on Debian/Ubuntu this installs the
// distribution's `chromium` package with apt-get (as root), running `apt-get update` first when the package index
// is missing. Nothing is downloaded from anywhere but the machine's own package sources.
//
//   node scripts/ensure-chromium.mjs        prints the browser's path; exit 1 with the reason when it cannot
//   CHROMIUM_PATH=/path/to/chromium         use that browser instead (checked, never installed)
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";

const wanted = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function fail(message) {
  console.error(`ensure-chromium: ${message}`);
  process.exit(1);
}

function aptGet(args) {
  console.error(`ensure-chromium: apt-get ${args.join(" ")}`);
  const run = spawnSync("apt-get", args, {
    encoding: "utf8",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (run.error) fail(`apt-get could not run: ${run.error.message}`);
  process.stderr.write(run.stderr);
  return run;
}

if (executable(wanted)) {
  console.log(wanted);
  process.exit(0);
}
if (process.env.CHROMIUM_PATH) fail(`CHROMIUM_PATH=${wanted} is not an executable file`);
if (process.platform !== "linux") {
  fail(`no Chromium at ${wanted}; install Chromium and set CHROMIUM_PATH to its executable`);
}
if (spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status !== 0) {
  fail(`no Chromium at ${wanted} and no apt-get to install it; install Chromium and set CHROMIUM_PATH`);
}
if (typeof process.getuid === "function" && process.getuid() !== 0) {
  fail(
    `no Chromium at ${wanted}; installing it needs root: run \`sudo apt-get install -y --no-install-recommends chromium\` (or this script as root)`,
  );
}

const install = ["install", "-y", "--no-install-recommends", "chromium"];
let run = aptGet(install);
// A bare image has no package index yet: apt-get cannot find the package until `apt-get update` fetched it.
if (
  run.status !== 0 &&
  /Unable to locate package|has no installation candidate|404\s+Not Found/i.test(run.stderr)
) {
  const update = aptGet(["update"]);
  if (update.status !== 0) fail(`apt-get update failed (exit ${update.status}); see above`);
  run = aptGet(install);
}
if (run.status !== 0) fail(`apt-get install chromium failed (exit ${run.status}); see above`);
if (!executable(wanted)) fail(`apt-get installed chromium, but ${wanted} is still not there`);
console.log(wanted);
