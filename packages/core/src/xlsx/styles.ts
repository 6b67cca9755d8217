import { DATE, type DateKind, ELAPSED, NOT_DATE, TIME } from "./excel-dates.ts";
import { attr, MAX_LIST_ENTRIES, tooMany, visitElements } from "./workbook-parts.ts";
import type { InflateBudget, ZipArchive } from "./zip-archive.ts";

/** Built-in number formats that show dates or times (ECMA-376 18.8.30, plus the CJK/locale ids 27-36, 50-58). */
function builtinKind(id: number): DateKind {
  if ((id >= 14 && id <= 17) || id === 22) return DATE;
  if ((id >= 18 && id <= 21) || id === 45 || id === 47) return TIME;
  if (id === 46) return ELAPSED;
  if (id === 32 || id === 33) return TIME; // h"시" mm"분" and kin in the CJK locales
  if ((id >= 27 && id <= 36) || (id >= 50 && id <= 58)) return DATE;
  return NOT_DATE;
}

/**
 * Classifies a custom format code by its first section. Quoted text, `\x` escapes, `_x` padding, `*x` fills and
 * `[...]` brackets (colours, locales, conditions) carry no date meaning; `[h]`, `[mm]`, `[ss]` mean elapsed time.
 */
export function classifyFormatCode(code: string): DateKind {
  let letters = "";
  let elapsed = false;
  for (let i = 0; i < code.length; i++) {
    const ch = code[i]!;
    if (ch === ";") break;
    if (ch === '"') {
      const close = code.indexOf('"', i + 1);
      i = close === -1 ? code.length : close;
    } else if (ch === "\\" || ch === "_" || ch === "*") {
      i++;
    } else if (ch === "[") {
      const close = code.indexOf("]", i + 1);
      const inner = code.slice(i + 1, close === -1 ? code.length : close);
      if (/^(h+|m+|s+)$/i.test(inner)) elapsed = true;
      i = close === -1 ? code.length : close;
    } else {
      letters += ch.toLowerCase();
    }
  }
  letters = letters.replace(/general/g, "").replace(/am\/pm|a\/p/g, "");
  const hasDate = /[yd]/.test(letters);
  if (elapsed) return hasDate ? DATE : ELAPSED;
  if (hasDate) return DATE;
  if (/[hs]/.test(letters)) return TIME;
  // "mmm", "mmmm": a month on its own is still a date.
  if (letters.includes("m")) return DATE;
  return NOT_DATE;
}

export interface CellStyles {
  /** DateKind by cellXfs index (the `s` attribute of a cell). */
  kinds: Uint8Array;
  count: number;
}

export const NO_STYLES: CellStyles = { kinds: new Uint8Array(0), count: 0 };

export async function readStyles(
  zip: ZipArchive,
  partName: string | undefined,
  budget: InflateBudget,
): Promise<CellStyles> {
  const info = partName === undefined ? undefined : zip.get(partName);
  if (!info) return NO_STYLES;
  const custom = new Map<number, DateKind>();
  const xfFormats: number[] = [];
  await visitElements(zip, info, budget, (name, tok, parents) => {
    const parent = parents[parents.length - 1];
    if (custom.size + xfFormats.length >= MAX_LIST_ENTRIES) throw tooMany(info.name, "formats");
    if (name === "numFmt" && parent === "numFmts") {
      const id = Number(attr(tok, "numFmtId"));
      const code = attr(tok, "formatCode");
      if (Number.isInteger(id) && code !== undefined) custom.set(id, classifyFormatCode(code));
    } else if (name === "xf" && parent === "cellXfs") {
      const id = Number(attr(tok, "numFmtId") ?? 0);
      xfFormats.push(Number.isInteger(id) ? id : 0);
    }
  });
  const kinds = new Uint8Array(xfFormats.length);
  xfFormats.forEach((id, index) => {
    kinds[index] = custom.get(id) ?? builtinKind(id);
  });
  return { kinds, count: xfFormats.length };
}
