import { describe, expect, it } from "vitest";
import { columnLetter, Header } from "../src/header.ts";

describe("columnLetter", () => {
  it.each([
    [0, "A"],
    [25, "Z"],
    [26, "AA"],
    [27, "AB"],
    [701, "ZZ"],
    [702, "AAA"],
    [16383, "XFD"],
  ])("column %i is %s", (index, letters) => {
    expect(columnLetter(index)).toBe(letters);
  });
});

describe("Header", () => {
  it("trims names and names blanks after their column letter", () => {
    const header = new Header(["  id ", null, "name", "   ", "qty"], 1);
    expect(header.names).toEqual(["id", "column_B", "name", "column_D", "qty"]);
  });

  it("makes duplicates unique without taking a name the sheet already uses", () => {
    const header = new Header(["name", "name", "name_2", "name"], 1);
    expect(header.names).toEqual(["name", "name_3", "name_2", "name_4"]);
  });

  it("turns numbers, booleans and dates into text", () => {
    expect(new Header([1, 2.5, true, false, "2024-01-02"], 3).names).toEqual([
      "1",
      "2.5",
      "TRUE",
      "FALSE",
      "2024-01-02",
    ]);
  });

  it("spans only from the first to the last non-empty header cell", () => {
    const header = new Header([null, "label", "value", null], 4);
    expect(header.names).toEqual(["label", "value"]);
    expect(header.columns).toEqual([1, 2]);
    expect(header.row).toBe(4);
  });

  it("names a column first seen in a data row, once", () => {
    const header = new Header(["a", "b"], 1);
    expect(header.ensure(1)).toBe(false);
    expect(header.ensure(3)).toBe(true);
    expect(header.ensure(3)).toBe(false);
    expect(header.ensure(0)).toBe(false);
    expect(header.names).toEqual(["a", "b", "column_D"]);
  });

  it("keeps sheet order when a column left of the header or in a gap is found later", () => {
    const header = new Header([null, "title"], 1);
    header.ensure(4);
    header.ensure(0);
    header.ensure(2);
    expect(header.names).toEqual(["column_A", "title", "column_C", "column_E"]);
    expect(header.columns).toEqual([0, 1, 2, 4]);
  });

  it("keeps a generated name unique against a literal one", () => {
    const header = new Header(["column_C", "x"], 1);
    header.ensure(2);
    expect(header.names).toEqual(["column_C", "x", "column_C_2"]);
  });
});
