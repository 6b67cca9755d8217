import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import iconv from "iconv-lite";
import { describe, expect, it } from "vitest";
import XLSX from "xlsx";
import { type ByteSource, bufferSource, openFileSource } from "../src/byte-source.ts";
import { detectFormat } from "../src/detect-format.ts";
import { SluiceError } from "../src/errors.ts";

const corpus = fileURLToPath(new URL("../../../../shared/corpus/", import.meta.url));

async function failure(promise: Promise<unknown>): Promise<SluiceError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceError);
    return error as SluiceError;
  }
  throw new Error("expected a failure");
}

const detect = (bytes: Buffer | string) =>
  detectFormat(bufferSource(typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes, "upload.xlsx"));

function sheetjs(bookType: XLSX.BookType): Buffer {
  const wb = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(
    wb,
    XLSX.utils.aoa_to_sheet([
      ["주문번호", "수량"],
      ["A-1", 3],
    ]),
    "Orders",
  );
  return XLSX.write(wb, { bookType, type: "buffer" }) as Buffer;
}

/** A zip local file header followed by a stored entry (enough for the sniffing, which never inflates it). */
function storedEntry(name: string, content: string): Buffer {
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(20, 4);
  header.writeUInt16LE(0, 8); // stored
  header.writeUInt32LE(Buffer.byteLength(content), 18);
  header.writeUInt32LE(Buffer.byteLength(content), 22);
  header.writeUInt16LE(Buffer.byteLength(name), 26);
  return Buffer.concat([header, Buffer.from(name), Buffer.from(content)]);
}

const FREE = 0xffffffff;
const END = 0xfffffffe;

/**
 * A minimal compound file: one FAT sector (sector 0) and a directory whose chain runs through sectors 2 then 1,
 * so reading it means following the FAT. `names` fill the directory in order after the root entry.
 */
function compoundFile(names: string[], sectorShift = 9): Buffer {
  const size = 1 << sectorShift;
  const perSector = size / 128;
  const entries = ["Root Entry", ...names];
  if (entries.length > 2 * perSector) throw new Error("too many names for two directory sectors");
  const header = Buffer.alloc(size);
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(header);
  header.writeUInt16LE(0x3e, 0x18);
  header.writeUInt16LE(sectorShift === 9 ? 3 : 4, 0x1a);
  header.writeUInt16LE(0xfffe, 0x1c);
  header.writeUInt16LE(sectorShift, 0x1e);
  header.writeUInt16LE(6, 0x20);
  header.writeUInt32LE(1, 0x2c);
  header.writeUInt32LE(2, 0x30);
  header.writeUInt32LE(0x1000, 0x38);
  header.writeUInt32LE(END, 0x3c);
  header.writeUInt32LE(END, 0x44);
  for (let i = 0; i < 109; i++) header.writeUInt32LE(i === 0 ? 0 : FREE, 0x4c + i * 4);
  const fat = Buffer.alloc(size, 0xff);
  fat.writeUInt32LE(0xfffffffd, 0);
  fat.writeUInt32LE(END, 4);
  fat.writeUInt32LE(1, 8);
  const directory = [Buffer.alloc(size), Buffer.alloc(size)];
  entries.forEach((name, i) => {
    const sector = directory[i < perSector ? 0 : 1]!;
    const at = (i % perSector) * 128;
    sector.write(name, at, "utf16le");
    sector.writeUInt16LE((name.length + 1) * 2, at + 0x40);
    sector[at + 0x42] = i === 0 ? 5 : 2;
  });
  // Sector 1 holds the second directory sector, sector 2 the first.
  return Buffer.concat([header, fat, directory[1]!, directory[0]!]);
}

/** Counts what detectFormat reads: it must look at a few sectors, never the whole file. */
function countingSource(bytes: Buffer): { source: ByteSource; bytesRead: () => number } {
  const base = bufferSource(bytes, "upload.xls");
  let total = 0;
  return {
    source: {
      ...base,
      async read(offset, length) {
        const out = await base.read(offset, length);
        total += out.length;
        return out;
      },
      stream() {
        throw new Error("detectFormat must not stream");
      },
    },
    bytesRead: () => total,
  };
}

describe("empty", () => {
  it("0 bytes is EMPTY_WORKBOOK", async () => {
    expect((await failure(detect(Buffer.alloc(0)))).code).toBe("EMPTY_WORKBOOK");
  });
});

describe("zip", () => {
  it.each([
    ["an xlsx written by SheetJS", sheetjs("xlsx")],
    ["an empty archive", Buffer.concat([Buffer.from("PK\x05\x06"), Buffer.alloc(18)])],
    ["a zip that is not a workbook (left to the xlsx reader)", storedEntry("readme.txt", "hello")],
    [
      "an OpenDocument text (not a spreadsheet)",
      storedEntry("mimetype", "application/vnd.oasis.opendocument.text"),
    ],
  ])("%s is xlsx", async (_, bytes) => {
    expect(await detect(bytes)).toBe("xlsx");
  });

  it.each([
    [
      "mimetype first, as LibreOffice writes it",
      storedEntry("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
    ],
    ["written by SheetJS (mimetype not first)", sheetjs("ods")],
  ])("an ODS, %s, is UNSUPPORTED_FORMAT", async (_, bytes) => {
    const error = await failure(detect(bytes));
    expect(error.code).toBe("UNSUPPORTED_FORMAT");
    expect(error.message).toContain(".ods");
    expect(error.message).toContain(".xlsx");
  });
});

describe("OLE compound files", () => {
  describe.each([9, 12])("sector shift %i", (shift) => {
    const perSector = (1 << shift) / 128;
    // Pad the first directory sector so the decisive name sits in the second one, reached through the FAT.
    const padding = Array.from({ length: perSector - 1 }, (_, i) => `Stream${i}`);
    it.each([
      ["EncryptionInfo", "WORKBOOK_ENCRYPTED"],
      ["EncryptedPackage", "WORKBOOK_ENCRYPTED"],
      ["Workbook", "UNSUPPORTED_FORMAT"],
      ["Book", "UNSUPPORTED_FORMAT"],
      ["WordDocument", "UNSUPPORTED_FORMAT"],
      ["Contents", "UNSUPPORTED_FORMAT"],
    ])("%s -> %s, reading a few sectors only", async (name, code) => {
      const bytes = Buffer.concat([compoundFile([...padding, name], shift), Buffer.alloc(4 << 20)]);
      const { source, bytesRead } = countingSource(bytes);
      const error = await failure(detectFormat(source));
      expect(error.code).toBe(code);
      expect(bytesRead()).toBeLessThanOrEqual(8192 + 4 * (1 << shift));
      if (name === "Workbook" || name === "Book") expect(error.message).toMatch(/97-2003 .*\.xls.*\.xlsx/);
      if (name === "WordDocument") expect(error.message).toContain("Word");
    });
  });

  it.each([
    ["a truncated file (directory past the end)", compoundFile(["Workbook"]).subarray(0, 1024)],
    ["just the signature", Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 1, 2, 3])],
    [
      "a bad sector size",
      (() => {
        const bytes = compoundFile(["Workbook"]);
        bytes.writeUInt16LE(7, 0x1e);
        return bytes;
      })(),
    ],
    [
      "a directory chain that loops",
      (() => {
        const bytes = compoundFile(["Workbook"]);
        bytes.writeUInt32LE(2, 512 + 8); // sector 2 -> 2
        return bytes;
      })(),
    ],
  ])("%s is UNSUPPORTED_FORMAT", async (_, bytes) => {
    const error = await failure(detect(bytes));
    expect(error.code).toBe("UNSUPPORTED_FORMAT");
  });

  it("a legacy .xls written by SheetJS (BIFF8) is UNSUPPORTED_FORMAT with a save-as hint", async () => {
    const error = await failure(detect(sheetjs("biff8")));
    expect(error.code).toBe("UNSUPPORTED_FORMAT");
    expect(error.message).toMatch(/legacy Excel 97-2003.*\.xls.*save it as.*\.xlsx/);
  });
});

describe("text", () => {
  const csv = "주문,수량\r\n사과,3\r\n";
  const utf16le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(csv, "utf16le")]);
  it.each([
    ["UTF-8", Buffer.from(csv)],
    ["UTF-8 with BOM", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(csv)])],
    ["UTF-16LE with BOM (NUL bytes everywhere)", utf16le],
    ["UTF-16BE with BOM", Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(csv, "utf16le").swap16()])],
    ["CP949", iconv.encode(csv, "cp949")],
    ["one byte", Buffer.from("a")],
    ["tab-separated with a sep= line", Buffer.from("sep=\t\na\tb\n")],
    ["text mentioning <html> later", Buffer.from("name,markup\nx,<html>\n")],
  ])("%s is csv", async (_, bytes) => {
    expect(await detect(bytes)).toBe("csv");
  });

  it.each([
    ["<?xml", '<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n<Workbook/>', "xml"],
    ["<?xml after a BOM and whitespace", '\ufeff \r\n<?xml version="1.0"?><Workbook/>', "xml"],
    ["<html", '<html xmlns:o="urn:schemas-microsoft-com:office:office"><body><table></table>', "html"],
    ["<!DOCTYPE html", "\n\n<!DOCTYPE html>\n<html><table><tr><td>1</td></tr></table></html>", "html"],
    ["<table", "  <TABLE border=1><tr><td>a</td></tr></TABLE>", "html"],
  ])("%s is UNSUPPORTED_FORMAT with a save-as hint", async (_, text, detected) => {
    const error = await failure(detect(text));
    expect(error.code).toBe("UNSUPPORTED_FORMAT");
    expect(error.message).toContain(".xlsx");
    expect(error.details.detected).toBe(detected);
  });

  it("UTF-16 XML is UNSUPPORTED_FORMAT too", async () => {
    const bytes = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from('<?xml version="1.0"?><a/>', "utf16le"),
    ]);
    expect((await failure(detect(bytes))).code).toBe("UNSUPPORTED_FORMAT");
  });

  it.each([
    ["SheetJS Excel 2003 XML", "xlml"],
    ["SheetJS HTML", "html"],
  ] as const)("%s is UNSUPPORTED_FORMAT", async (_, bookType) => {
    expect((await failure(detect(sheetjs(bookType)))).code).toBe("UNSUPPORTED_FORMAT");
  });
});

describe("binary", () => {
  it.each([
    ["PDF", Buffer.concat([Buffer.from("%PDF-1.7\n"), Buffer.from([0, 1, 2])]), "PDF"],
    [
      "PDF with no NUL in its head",
      Buffer.from(`%PDF-1.4\n${"1 0 obj << /Type /Catalog >> endobj\n".repeat(400)}`),
      "PDF",
    ],
    ["PNG", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), "PNG"],
    ["JPEG", Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), "JPEG"],
    ["gzip", Buffer.from([0x1f, 0x8b, 8, 0, 0, 0]), "gzip"],
    ["BIFF2 (Excel 2.x .xls)", sheetjs("biff2"), "legacy Excel"],
    ["unknown bytes with NULs", Buffer.from([1, 2, 3, 0, 4, 5]), "binary"],
  ])("%s is UNSUPPORTED_FORMAT naming it", async (_, bytes, name) => {
    const error = await failure(detect(bytes));
    expect(error.code).toBe("UNSUPPORTED_FORMAT");
    expect(error.message).toContain(name);
  });
});

describe("source errors", () => {
  it("a failing read is SOURCE_READ_FAILED (retryable)", async () => {
    const base = bufferSource(Buffer.from("a,b\n"));
    const error = await failure(detectFormat({ ...base, read: () => Promise.reject(new Error("reset")) }));
    expect(error.code).toBe("SOURCE_READ_FAILED");
    expect(error.retryable).toBe(true);
  });

  it("a read failing inside the compound file directory is SOURCE_READ_FAILED, not UNSUPPORTED_FORMAT", async () => {
    const base = bufferSource(compoundFile(["Workbook"]));
    const source: ByteSource = {
      ...base,
      read: (offset, length) =>
        offset === 0 ? base.read(offset, length) : Promise.reject(new Error("reset")),
    };
    expect((await failure(detectFormat(source))).code).toBe("SOURCE_READ_FAILED");
  });
});

describe.skipIf(!existsSync(corpus))("corpus", () => {
  const files = existsSync(corpus) ? readdirSync(corpus).filter((f) => /\.(xlsx|csv)$/.test(f)) : [];
  const encrypted = new Set([
    "apache-poi__protected_passtika.xlsx",
    "calamine__pass_protected.xlsx",
    "excelize__encryptAES.xlsx",
  ]);
  it("has the files this suite expects", () => {
    expect(files.length).toBeGreaterThan(40);
    for (const name of encrypted) expect(files).toContain(name);
  });
  it.each(files)("%s", async (file) => {
    const source = await openFileSource(join(corpus, file), file);
    try {
      if (encrypted.has(file)) {
        expect((await failure(detectFormat(source))).code).toBe("WORKBOOK_ENCRYPTED");
      } else {
        expect(await detectFormat(source)).toBe(file.endsWith(".csv") ? "csv" : "xlsx");
      }
    } finally {
      await source.close();
    }
  });
});
if (!existsSync(corpus))
  console.warn(`corpus not found at ${corpus}: skipping the corpus detect-format suite`);
