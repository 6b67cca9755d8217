// papaparse streaming over a file stream, header-keyed rows (what the converter also produces), counting rows.
import { createReadStream } from "node:fs";
import Papa from "papaparse";

const file = process.argv[2];
if (!file) throw new Error("usage: papaparse.ts FILE");
const rows = await new Promise<number>((resolve, reject) => {
  let count = 0;
  Papa.parse<Record<string, string>>(createReadStream(file, { encoding: "utf8" }), {
    header: true,
    skipEmptyLines: true,
    chunk: (results) => {
      count += results.data.length;
    },
    complete: () => resolve(count),
    error: (err) => reject(err),
  });
});
console.log(JSON.stringify({ rows }));
