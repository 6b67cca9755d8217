// A stand-in for convert-worker.ts in worker-lambda's tests: answers { echoed: event }, or ends its thread with
// exit code 3 when the event says { exit: true } (a sandbox whose runtime exited). With { delayMs } it answers
// after that long, with the thread it ran in: { echoed: event, threadId }.
import { parentPort, threadId } from "node:worker_threads";

parentPort.on("message", ({ id, event }) => {
  if (event?.exit) process.exit(3);
  if (event?.delayMs === undefined) parentPort.postMessage({ id, output: { echoed: event } });
  else setTimeout(() => parentPort.postMessage({ id, output: { echoed: event, threadId } }), event.delayMs);
});
