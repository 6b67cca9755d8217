import type { Reporter, TestModule } from "vitest/node";

/**
 * Ends the run with the plain "N passed, N failed" line CI reads, after vitest's own summary. A test file that
 * failed outside its tests (an import error, a beforeAll that timed out: its tests are then skipped) counts as a
 * failure too, so the line never says "0 failed" for a run that failed.
 */
export default class SummaryLineReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    let failedFiles = 0;
    for (const module of testModules) {
      let failedHere = 0;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failedHere++;
        else skipped++;
      }
      failed += failedHere;
      if (module.state() === "failed" && failedHere === 0) failedFiles++;
    }
    const files = failedFiles
      ? ` (${failedFiles} test file${failedFiles > 1 ? "s" : ""} failed outside a test)`
      : "";
    process.stdout.write(
      `\n${passed} passed, ${failed + failedFiles} failed${files}${skipped ? `, ${skipped} skipped` : ""}\n`,
    );
  }
}
