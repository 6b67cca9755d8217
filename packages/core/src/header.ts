import type { CellValue } from "./workbook-reader.ts";

/** Column letters as Excel shows them: 0 -> A, 25 -> Z, 26 -> AA. */
export function columnLetter(index: number): string {
  let n = index + 1;
  let letters = "";
  while (n > 0) {
    const rem = (n - 1) % 26;
    letters = String.fromCharCode(65 + rem) + letters;
    n = Math.floor((n - 1) / 26);
  }
  return letters;
}

function headerText(value: CellValue | undefined): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  return String(value).trim();
}

/**
 * The header: names by column index. Built from the first non-empty row; blank names become `column_<letter>`,
 * duplicates `name_2`, `name_3`. Data found in a column the header row does not cover gets a `column_<letter>`
 * name when first seen, so no value is ever dropped.
 */
export class Header {
  /** Names by column index; undefined where no column is known yet. */
  private readonly byColumn: (string | undefined)[] = [];
  // `__proto__` would be lost by the many JSON consumers that copy objects key by key (zod among them).
  private readonly used = new Set<string>(["__proto__"]);
  /** Known column indexes in sheet order (the key order of every row). */
  readonly columns: number[] = [];
  readonly row: number;

  constructor(cells: CellValue[], row: number) {
    this.row = row;
    let first = -1;
    let last = -1;
    const raw: string[] = [];
    for (let i = 0; i < cells.length; i++) {
      raw[i] = headerText(cells[i]);
      if (raw[i] !== "") {
        if (first < 0) first = i;
        last = i;
      }
    }
    // Names present in the sheet are reserved first so a generated name never takes one of them.
    const reserved = new Set(raw.filter((name) => name !== ""));
    for (let i = first; i >= 0 && i <= last; i++) {
      const base = raw[i] || `column_${columnLetter(i)}`;
      this.assign(i, base, reserved);
    }
  }

  private assign(column: number, base: string, reserved: Set<string> = new Set()): string {
    let name = base;
    if (this.used.has(name)) {
      let n = 2;
      while (this.used.has(`${base}_${n}`) || reserved.has(`${base}_${n}`)) n++;
      name = `${base}_${n}`;
    }
    this.used.add(name);
    this.byColumn[column] = name;
    // Keep sheet order: a column found late (left of the header, or in a gap) takes its place, not the end.
    let at = this.columns.length;
    while (at > 0 && this.columns[at - 1]! > column) at--;
    this.columns.splice(at, 0, column);
    return name;
  }

  /** The name of a column, giving it one if this is the first value seen there. Returns true if new. */
  ensure(column: number): boolean {
    if (this.byColumn[column] !== undefined) return false;
    this.assign(column, `column_${columnLetter(column)}`);
    return true;
  }

  nameOf(column: number): string {
    return this.byColumn[column] ?? `column_${columnLetter(column)}`;
  }

  get names(): string[] {
    return this.columns.map((c) => this.byColumn[c]!);
  }
}
