import { describe, expect, it } from "vitest";
import { csvField, csvLine, neutralizeFormula } from "../../src/reports/csv-writer.ts";

describe("csv writer", () => {
  it.each([
    ["plain", "plain"],
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["two\nlines", '"two\nlines"'],
    ["cr\rhere", '"cr\rhere"'],
    ["", ""],
  ])("quotes %j as RFC 4180 does", (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });

  it.each(["=1+1", "+1", "-1+2", "@SUM(A1)", "\tcmd", "\rcmd"])(
    "neutralizes the formula start of %j with a quote",
    (value) => {
      expect(neutralizeFormula(value)).toBe(`'${value}`);
    },
  );

  it("quotes a neutralized field that also needs quoting", () => {
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
  });

  it("writes numbers, booleans and empty cells as they are", () => {
    expect(csvLine([-5, 1.5, true, false, null, undefined, Number.NaN])).toBe("-5,1.5,TRUE,FALSE,,,\r\n");
  });
});
