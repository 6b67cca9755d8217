import { inflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { oneSheet, readCells, sharedStringsXml, stylesXml, type ZipFileSpec, zip } from "./ooxml-fixtures.ts";

/**
 * Problems streaming xlsx readers are known for, each checked here: a sheet that comes before the shared
 * strings and styles in the zip (exceljs #3064: the reader races the entry order and loses strings or dates),
 * and date cells read while streaming (exceljs #1430: dates come out as serial numbers when the styles are not
 * known yet). Random access to the zip's central directory makes the entry order irrelevant.
 */
const rows =
  '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>' +
  '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" s="1"><v>45000</v></c></row>';
const parts = {
  sharedStrings: sharedStringsXml(["name", "ordered", "김민준"]),
  styles: stylesXml([0, 14]),
};
const expected = [
  ["name", "ordered"],
  ["김민준", "2023-03-15"],
];

/** The package's zip entries rebuilt in a given order of part names (the rest keep their place). */
function reordered(first: string[]): Buffer {
  const entries = unpack(oneSheet(rows, parts));
  const head = first.map((name) => entries.find((e) => e.name === name)!);
  return zip([...head, ...entries.filter((e) => !first.includes(e.name))]);
}

/** The entries of a zip this file's writer made (stored or deflated, no data descriptors). */
function unpack(bytes: Buffer): ZipFileSpec[] {
  const files: ZipFileSpec[] = [];
  let at = 0;
  while (bytes.readUInt32LE(at) === 0x04034b50) {
    const method = bytes.readUInt16LE(at + 8);
    const size = bytes.readUInt32LE(at + 18);
    const nameLength = bytes.readUInt16LE(at + 26);
    const extra = bytes.readUInt16LE(at + 28);
    const name = bytes.toString("utf8", at + 30, at + 30 + nameLength);
    const start = at + 30 + nameLength + extra;
    const body = bytes.subarray(start, start + size);
    files.push({ name, data: method === 0 ? Buffer.from(body) : inflateRawSync(body) });
    at = start + size;
  }
  return files;
}

describe("streaming pitfalls", () => {
  it.each([
    ["the sheet before the shared strings and styles", ["xl/worksheets/sheet1.xml"]],
    ["the shared strings and styles before the sheet", ["xl/sharedStrings.xml", "xl/styles.xml"]],
    [
      "the styles last, after the sheet and the strings",
      ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"],
    ],
  ])("reads strings and dates whatever the entry order: %s", async (_, first) => {
    const bytes = reordered(first);
    const names = unpack(bytes).map((e) => e.name);
    expect(names.slice(0, first.length)).toEqual(first);
    expect(await readCells(bytes)).toEqual(expected);
  });
});
