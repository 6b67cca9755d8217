// The floor for xlsx: inflate the first worksheet's part alone and throw the bytes away. No XML parsing, no row
// counting, no other part (with shared strings, sharedStrings.xml is NOT inflated: the floor is the sheet part only).
// The entry is found through the zip's central directory (random access, as a converter that does not read the
// whole file would), its local header is skipped and its raw deflate data is streamed through node:zlib.
//
//   tsx bench/peers/inflate-sheet.ts FILE ROWS
//
// Prints {"rows": ROWS, "inflatedBytes": N}: ROWS is the workbook's row count given by the harness (the floor counts
// nothing), echoed only if every byte the central directory promises came out, so its rows/s compare with the
// parsers' as time ratios.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createInflateRaw } from "node:zlib";

const [file, rowsArg] = process.argv.slice(2);
if (!file || !rowsArg) throw new Error("usage: inflate-sheet.ts FILE ROWS");

interface Entry {
  name: string;
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_EOCD_LOCATOR_SIG = 0x07064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

const handle = await open(file, "r");
try {
  const { size } = await handle.stat();
  // The end-of-central-directory record sits in the last 22 bytes + up to 64 KiB of comment.
  const tailLength = Math.min(size, 22 + 0xffff + 20);
  const tail = Buffer.alloc(tailLength);
  await handle.read(tail, 0, tailLength, size - tailLength);
  let eocd = -1;
  for (let i = tailLength - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error("not a zip file: no end of central directory");
  let entries = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  if (cdOffset === 0xffffffff && eocd >= 20 && tail.readUInt32LE(eocd - 20) === ZIP64_EOCD_LOCATOR_SIG) {
    const zip64At = Number(tail.readBigUInt64LE(eocd - 20 + 8));
    const z = Buffer.alloc(56);
    await handle.read(z, 0, 56, zip64At);
    entries = Number(z.readBigUInt64LE(32));
    cdSize = Number(z.readBigUInt64LE(40));
    cdOffset = Number(z.readBigUInt64LE(48));
  }
  const cd = Buffer.alloc(cdSize);
  await handle.read(cd, 0, cdSize, cdOffset);
  const found: Entry[] = [];
  for (let p = 0, n = 0; n < entries; n++) {
    if (cd.readUInt32LE(p) !== CENTRAL_SIG) throw new Error("corrupt central directory");
    const nameLength = cd.readUInt16LE(p + 28);
    const extraLength = cd.readUInt16LE(p + 30);
    const commentLength = cd.readUInt16LE(p + 32);
    const entry: Entry = {
      name: cd.toString("utf8", p + 46, p + 46 + nameLength),
      method: cd.readUInt16LE(p + 10),
      compressedSize: cd.readUInt32LE(p + 20),
      uncompressedSize: cd.readUInt32LE(p + 24),
      localHeaderOffset: cd.readUInt32LE(p + 42),
    };
    // Zip64 extra field (id 1): the 64-bit values, in order, for the 32-bit fields that are 0xffffffff.
    for (let e = p + 46 + nameLength; e < p + 46 + nameLength + extraLength; ) {
      const id = cd.readUInt16LE(e);
      const len = cd.readUInt16LE(e + 2);
      if (id === 1) {
        let q = e + 4;
        if (entry.uncompressedSize === 0xffffffff) {
          entry.uncompressedSize = Number(cd.readBigUInt64LE(q));
          q += 8;
        }
        if (entry.compressedSize === 0xffffffff) {
          entry.compressedSize = Number(cd.readBigUInt64LE(q));
          q += 8;
        }
        if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = Number(cd.readBigUInt64LE(q));
      }
      e += 4 + len;
    }
    found.push(entry);
    p += 46 + nameLength + extraLength + commentLength;
  }
  // The first worksheet part (the bench workbooks have one sheet; sheet1.xml is the workbook's first sheet).
  const sheet = found
    .filter((e) => /^xl\/worksheets\/sheet\d+\.xml$/.test(e.name))
    .sort((a, b) => Number(/\d+/.exec(a.name)![0]) - Number(/\d+/.exec(b.name)![0]))[0];
  if (!sheet) throw new Error("no xl/worksheets/sheetN.xml entry");
  if (sheet.method !== 8) throw new Error(`${sheet.name} is not deflated (method ${sheet.method})`);
  const local = Buffer.alloc(30);
  await handle.read(local, 0, 30, sheet.localHeaderOffset);
  if (local.readUInt32LE(0) !== LOCAL_SIG) throw new Error("corrupt local header");
  const dataStart = sheet.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);

  let inflatedBytes = 0;
  await new Promise<void>((resolve, reject) => {
    const inflate = createInflateRaw({ chunkSize: 256 * 1024 });
    inflate.on("data", (chunk: Buffer) => {
      inflatedBytes += chunk.length;
    });
    inflate.on("end", resolve);
    inflate.on("error", reject);
    const source = createReadStream(file, {
      start: dataStart,
      end: dataStart + sheet.compressedSize - 1,
      highWaterMark: 1024 * 1024,
    });
    source.on("error", reject);
    source.pipe(inflate);
  });
  if (inflatedBytes !== sheet.uncompressedSize)
    throw new Error(`inflated ${inflatedBytes} bytes, the central directory says ${sheet.uncompressedSize}`);
  console.log(JSON.stringify({ rows: Number(rowsArg), inflatedBytes, part: sheet.name }));
} finally {
  await handle.close();
}
