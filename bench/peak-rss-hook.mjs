// Preloaded into every benchmarked child (`node --import`): at exit, write getrusage's ru_maxrss (the kernel's
// exact high-water mark of the whole process, in KiB) to the file named by SLUICE_BENCH_RSS_FILE. Polling
// /proc/<pid>/status from the parent can miss a peak in its last few milliseconds; this cannot. A process killed
// by a signal or a V8 fatal error never runs this, and the parent then falls back to its polled VmHWM.
import { writeFileSync } from "node:fs";

const target = process.env.SLUICE_BENCH_RSS_FILE;
if (target) {
  process.on("exit", () => {
    try {
      writeFileSync(target, String(process.resourceUsage().maxRSS));
    } catch {
      // Measurement must never change the child's exit status.
    }
  });
}
