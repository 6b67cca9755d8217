import { scalarJson, writeJsonString, writeQuoted, writeUtf8Json } from "./json-text.ts";
import type { CellValue, CellWarning, JsonRecord } from "./workbook-reader.ts";
import { writeSerialIsoJson } from "./xlsx/excel-dates.ts";
import { writeXmlTextJson } from "./xlsx/xml-text.ts";

/**
 * One row's values as JSON text in a reused byte arena, written cell by cell as a reader finishes them (in
 * ascending column order): the chunk writer then copies bytes, and no value becomes a JS string on the way.
 */
export class JsonRow implements JsonRecord {
  row = 0;
  bytes: Buffer = Buffer.allocUnsafe(16 * 1024);
  count = 0;
  starts = new Int32Array(64);
  ends = new Int32Array(64);
  warnings: CellWarning[] | undefined;
  private used = 0;

  reset(row: number): void {
    this.row = row;
    this.count = 0;
    this.used = 0;
    this.warnings = undefined;
  }

  value(i: number): CellValue {
    if (i >= this.count || this.starts[i] === this.ends[i]) return null;
    return JSON.parse(this.bytes.toString("utf8", this.starts[i], this.ends[i])) as CellValue;
  }

  /** Starts `column`'s value with room for `max` bytes (columns skipped on the way stay empty); returns where. */
  private begin(column: number, max: number): number {
    if (column >= this.starts.length) {
      const size = Math.max(column + 1, this.starts.length * 2);
      const starts = new Int32Array(size);
      const ends = new Int32Array(size);
      starts.set(this.starts.subarray(0, this.count));
      ends.set(this.ends.subarray(0, this.count));
      this.starts = starts;
      this.ends = ends;
    }
    for (let c = this.count; c < column; c++) {
      this.starts[c] = 0;
      this.ends[c] = 0;
    }
    this.count = column + 1;
    if (this.used + max > this.bytes.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + max));
      this.bytes.copy(bigger, 0, 0, this.used);
      this.bytes = bigger;
    }
    this.starts[column] = this.used;
    return this.used;
  }

  private end(column: number, at: number): void {
    this.ends[column] = at;
    this.used = at;
  }

  /** Text given as valid UTF-8 bytes. */
  putUtf8(column: number, buf: Buffer, start: number, end: number): void {
    const at = this.begin(column, 2 + 6 * (end - start));
    this.end(column, writeUtf8Json(buf, start, end, this.bytes, at));
  }

  /** XML text as `writeXmlTextJson` takes it (valid UTF-8; predefined entities decoded on the way). */
  putXmlText(column: number, buf: Buffer, start: number, end: number): void {
    const at = this.begin(column, 2 + 6 * (end - start));
    this.end(column, writeXmlTextJson(buf, start, end, this.bytes, at));
  }

  /** Valid UTF-8 text with nothing JSON escapes, quoted as it is. */
  putQuoted(column: number, buf: Buffer, start: number, end: number): void {
    const at = this.begin(column, 2 + end - start);
    this.end(column, writeQuoted(buf, start, end, this.bytes, at));
  }

  /** Bytes that already are the value's JSON (a number in its shortest form). */
  putRaw(column: number, buf: Buffer, start: number, end: number): void {
    let o = this.begin(column, end - start);
    const out = this.bytes;
    for (let i = start; i < end; i++) out[o++] = buf[i]!;
    this.end(column, o);
  }

  /** A serial under a date format: `serialToIso(serial, date1904, DATE)` as JSON. */
  putDate(column: number, serial: number, date1904: boolean): void {
    const at = this.begin(column, 32);
    const end = writeSerialIsoJson(serial, date1904, this.bytes, at);
    if (end < 0) this.putValue(column, serial);
    else this.end(column, end);
  }

  putValue(column: number, value: CellValue): void {
    if (typeof value === "string") {
      const at = this.begin(column, 2 + 6 * value.length);
      this.end(column, writeJsonString(value, this.bytes, at));
      return;
    }
    const text = scalarJson(value);
    let o = this.begin(column, text.length);
    const out = this.bytes;
    for (let i = 0; i < text.length; i++) out[o++] = text.charCodeAt(i);
    this.end(column, o);
  }
}
