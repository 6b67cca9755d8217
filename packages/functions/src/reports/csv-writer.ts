/**
 * CSV lines as RFC 4180 has them (comma, CRLF, a field quoted when it holds a quote, comma, CR or LF, a quote
 * doubled), made safe to open in a spreadsheet: a text cell that starts with = + - @ (or a tab or CR, which
 * some spreadsheets skip before reading a formula) is prefixed with a single quote, so it shows as text and is
 * never evaluated (OWASP "CSV injection"). Numbers and booleans are written as they are.
 */
export type CsvValue = string | number | boolean | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;

/** The text as a spreadsheet must show it: a leading formula character is neutralized with a quote. */
export function neutralizeFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  const text = neutralizeFormula(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: readonly CsvValue[]): string {
  return `${values.map(csvField).join(",")}\r\n`;
}

/** Starts a UTF-8 CSV so that Excel reads it as UTF-8 (without it, accents come out garbled). */
export const CSV_BOM = "\uFEFF";
