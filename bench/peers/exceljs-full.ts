// exceljs full read: what a naive admin server does (the whole workbook as objects in memory).
import ExcelJS from "exceljs";

const file = process.argv[2];
if (!file) throw new Error("usage: exceljs-full.ts FILE");
const workbook = new ExcelJS.Workbook();
await workbook.xlsx.readFile(file);
const worksheet = workbook.worksheets[0];
if (!worksheet) throw new Error("no worksheet");
let rows = 0;
let cells = 0;
worksheet.eachRow((row) => {
  cells += (row.values as unknown[]).length;
  rows++;
});
console.log(JSON.stringify({ rows: Math.max(0, rows - 1), cells }));
