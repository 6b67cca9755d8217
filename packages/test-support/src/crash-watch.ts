import { afterAll, afterEach, beforeAll, expect } from "vitest";

/**
 * Fails the test during which a promise rejection went unhandled or an exception went uncaught in this process
 * (a timer's rejection, a stream 'error' nobody listens to): in `sluice serve` either one ends the process, and
 * every upload, queue and bucket it holds with it. The in-process equivalent of `--unhandled-rejections=strict`.
 */
export function failOnCrash(): void {
  const crashes: unknown[] = [];
  const onRejection = (reason: unknown) => crashes.push(reason);
  const onException = (error: unknown) => crashes.push(error);
  const check = async () => {
    // Rejections are reported once the microtask queue drains: give the last ones a turn.
    await new Promise((resolve) => setImmediate(resolve));
    const found = crashes.splice(0).map((c) => (c instanceof Error ? (c.stack ?? c.message) : String(c)));
    expect(found, "unhandled rejections or uncaught exceptions").toEqual([]);
  };
  beforeAll(() => {
    process.on("unhandledRejection", onRejection);
    process.on("uncaughtException", onException);
  });
  afterEach(check);
  afterAll(async () => {
    await check();
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  });
}
