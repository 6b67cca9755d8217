// SheetJS: readFile (dense sheets) then sheet_to_json, the common "parse the upload" snippet.
import XLSX from "xlsx";

const file = process.argv[2];
if (!file) throw new Error("usage: sheetjs.ts FILE");
const workbook = XLSX.readFile(file, { dense: true, cellDates: true });
const name = workbook.SheetNames[0];
const sheet = name === undefined ? undefined : workbook.Sheets[name];
// SheetJS does not throw when a sheet's XML is too large for one JS string (~536M chars): it just leaves the
// sheet out. Report that as the failure it is.
if (!sheet) throw new Error(`SheetJS returned no data for sheet "${name}"`);
const rows = XLSX.utils.sheet_to_json<Record<string, unknown>>(sheet);
console.log(JSON.stringify({ rows: rows.length }));
