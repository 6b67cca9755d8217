/**
 * The admin server's own import path without the pipeline: the chunks of a workbook converted beforehand (by the
 * benchmark, untimed), each line of chunks.jsonl keyed by column name (`keyedChunk`, as the consumer SDK hands a
 * chunk to the handler) and imported with src/import-chunk.ts's `importChunk()` (its validation, its transaction,
 * its multi-row insert and ledger), `concurrency` chunks in flight like the admin server. The benchmark runs it
 * under the admin server's heap cap, so the two differ only in how the chunks arrive: that is the rate the
 * database gives the admin server's own statements.
 * Run: node --max-old-space-size=256 --import tsx statements-import.ts <chunks.jsonl> <concurrency>
 * (DATABASE_URL set)
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { type Chunk, keyedChunk } from "@sluice/contract";
import { createPool, migrate } from "../src/db.ts";
import { importChunk } from "../src/import-chunk.ts";

const [chunksFile, concurrencyArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
if (!chunksFile || !Number.isInteger(concurrency) || concurrency < 1 || !process.env.DATABASE_URL) {
  console.error("usage: DATABASE_URL=... statements-import.ts <chunks.jsonl> <concurrency>");
  process.exit(2);
}
// One connection per chunk in flight and one spare (the admin server's pool also serves its HTTP pages).
const pool = createPool(process.env.DATABASE_URL, concurrency + 1);
await migrate(pool);
// Ready: from here on it is importing (the benchmark's clock starts at this line).
console.log(JSON.stringify({ msg: "ready" }));

const inFlight = new Set<Promise<void>>();
let accepted = 0;
let rejected = 0;
let chunks = 0;
// The first import that fails ends the run: no more chunks are read, those in flight are let finish (settled, so
// none rejects unhandled), then the benchmark gets the error on stderr and a nonzero exit.
let failure: unknown;
const lines = createInterface({ input: createReadStream(chunksFile, "utf8"), crlfDelay: Infinity });
for await (const line of lines) {
  if (!line) continue;
  const task: Promise<void> = importChunk({ pool }, keyedChunk(JSON.parse(line) as Chunk)).then(
    (r) => {
      accepted += r.accepted;
      rejected += r.rejected.length;
      chunks++;
      inFlight.delete(task);
    },
    (error: unknown) => {
      failure ??= error;
      inFlight.delete(task);
    },
  );
  inFlight.add(task);
  if (inFlight.size >= concurrency) await Promise.race(inFlight);
  if (failure !== undefined) break;
}
await Promise.all(inFlight);
await pool.end();
if (failure !== undefined) {
  console.error(failure);
  process.exit(1);
}
console.log(JSON.stringify({ msg: "statements_import_done", accepted, rejected, chunks }));
