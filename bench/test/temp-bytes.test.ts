import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempBytes } from "../temp-bytes.ts";

const MB = 1_000_000;
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), "sluice-temp-bytes-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe.runIf(process.platform === "linux")("tempBytes", () => {
  it("counts what a process and its children hold open under the directory, unlinked files included, once each", async () => {
    const dir = tempDir();
    // As sluice's shared-strings spill: opened, unlinked at once, written through the descriptor (3 MB); a file
    // kept linked and open (1 MB, counted once); a child of the process holding another unlinked file (2 MB).
    const script = `
      const fs = require("node:fs"), path = require("node:path"), cp = require("node:child_process");
      const dir = ${JSON.stringify(dir)};
      const spill = path.join(dir, "spill"); const fd = fs.openSync(spill, "wx+"); fs.unlinkSync(spill);
      fs.writeSync(fd, Buffer.alloc(3e6, 1), 0, 3e6, 0);
      fs.writeSync(fs.openSync(path.join(dir, "kept"), "wx+"), Buffer.alloc(1e6, 2));
      const child = cp.spawn(process.execPath, ["-e", \`
        const fs = require("node:fs"); const p = ${JSON.stringify(path.join(dir, "child"))};
        const fd = fs.openSync(p, "wx+"); fs.unlinkSync(p); fs.writeSync(fd, Buffer.alloc(2e6, 3));
        console.log("ready"); setInterval(() => {}, 1e6);\`], { stdio: ["ignore", "pipe", "inherit"] });
      child.stdout.once("data", () => console.log("ready"));
      setInterval(() => {}, 1e6);`;
    const proc = spawn(process.execPath, ["-e", script], {
      detached: true,
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      await once(proc.stdout, "data");
      expect(tempBytes(dir)).toBe(1 * MB);
      expect(tempBytes(dir, proc.pid)).toBe(6 * MB);
      // Another directory: none of the process's files.
      const other = tempDir();
      writeFileSync(path.join(other, "x"), Buffer.alloc(10));
      expect(tempBytes(other, proc.pid)).toBe(10);
    } finally {
      process.kill(-proc.pid!, "SIGKILL");
    }
  });

  it("is the directory's files alone for a process that is gone", () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "left"), Buffer.alloc(1234));
    expect(tempBytes(dir, 2 ** 22 + 12_345)).toBe(1234);
  });
});
