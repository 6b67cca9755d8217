// exceljs streaming reader: the usual "don't load the whole file" answer. Iterates every row and touches its values.
import ExcelJS from "exceljs";

const file = process.argv[2];
if (!file) throw new Error("usage: exceljs-stream.ts FILE");
const reader = new ExcelJS.stream.xlsx.WorkbookReader(file, {
  sharedStrings: "cache",
  styles: "cache", // needed to get Date values for date-formatted cells
  hyperlinks: "ignore",
  worksheets: "emit",
  entries: "emit",
});
let rows = 0;
let cells = 0;
for await (const worksheet of reader) {
  for await (const row of worksheet) {
    const values = row.values as unknown[];
    cells += values.length;
    rows++;
  }
  break; // first sheet only, like the converter
}
// The header row is not a data row.
console.log(JSON.stringify({ rows: Math.max(0, rows - 1), cells }));
