import type { ByteSource } from "./byte-source.ts";

/** The 8-byte signature of an OLE2 compound file (legacy Office files, and encrypted OOXML packages). */
export const CFB_SIGNATURE = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);

/** The compound file's structure cannot be followed (truncated, looping chains, bad sector size). */
export class CfbFormatError extends Error {}

const END_OF_CHAIN = 0xfffffffe;
const HEADER_DIFAT_ENTRIES = 109;
const DIRECTORY_ENTRY_BYTES = 128;
/** Enough for any real workbook's directory (4 entries a 512-byte sector); a longer chain is not worth reading. */
const MAX_DIRECTORY_SECTORS = 64;

/**
 * Names of the streams and storages in a compound file's directory. Reads the header, the FAT sectors the
 * directory chain goes through and the directory sectors themselves: a few small reads, never the whole file.
 */
export async function readCfbDirectoryNames(source: ByteSource): Promise<string[]> {
  const header = await source.read(0, 512);
  if (header.length < 512 || !header.subarray(0, 8).equals(CFB_SIGNATURE)) {
    throw new CfbFormatError("truncated header");
  }
  const sectorShift = header.readUInt16LE(0x1e);
  if (sectorShift !== 9 && sectorShift !== 12) throw new CfbFormatError(`sector shift ${sectorShift}`);
  const sectorSize = 1 << sectorShift;
  const entriesPerSector = sectorSize / 4;
  const firstDirectorySector = header.readUInt32LE(0x30);
  const firstDifatSector = header.readUInt32LE(0x44);
  const difatSectorCount = header.readUInt32LE(0x48);

  const readSector = async (sector: number): Promise<Buffer> => {
    // Sector 0 starts right after the header, which takes a whole sector.
    const bytes = await source.read((sector + 1) * sectorSize, sectorSize);
    if (bytes.length < sectorSize) throw new CfbFormatError(`sector ${sector} is past the end of the file`);
    return bytes;
  };

  // FAT sector locations: 109 in the header, the rest in the DIFAT chain (read only when needed).
  const difat: number[] = [];
  for (let i = 0; i < HEADER_DIFAT_ENTRIES; i++) difat.push(header.readUInt32LE(0x4c + i * 4));
  let nextDifatSector = firstDifatSector;
  let difatSectorsRead = 0;
  const fatSectorLocation = async (index: number): Promise<number> => {
    while (index >= difat.length) {
      if (nextDifatSector >= END_OF_CHAIN || difatSectorsRead >= difatSectorCount) {
        throw new CfbFormatError("FAT sector outside the DIFAT");
      }
      const sector = await readSector(nextDifatSector);
      difatSectorsRead++;
      for (let i = 0; i < entriesPerSector - 1; i++) difat.push(sector.readUInt32LE(i * 4));
      nextDifatSector = sector.readUInt32LE((entriesPerSector - 1) * 4);
    }
    return difat[index]!;
  };
  const fatCache = new Map<number, Buffer>();
  const nextSector = async (sector: number): Promise<number> => {
    const fatIndex = Math.floor(sector / entriesPerSector);
    let fat = fatCache.get(fatIndex);
    if (fat === undefined) {
      const location = await fatSectorLocation(fatIndex);
      if (location >= END_OF_CHAIN) throw new CfbFormatError(`no FAT sector ${fatIndex}`);
      fat = await readSector(location);
      fatCache.set(fatIndex, fat);
    }
    return fat.readUInt32LE((sector % entriesPerSector) * 4);
  };

  const names: string[] = [];
  const seen = new Set<number>();
  let sector = firstDirectorySector;
  while (sector !== END_OF_CHAIN) {
    if (sector > END_OF_CHAIN || seen.has(sector)) throw new CfbFormatError("broken directory chain");
    if (seen.size >= MAX_DIRECTORY_SECTORS) break;
    seen.add(sector);
    const bytes = await readSector(sector);
    for (let at = 0; at + DIRECTORY_ENTRY_BYTES <= bytes.length; at += DIRECTORY_ENTRY_BYTES) {
      const type = bytes[at + 0x42];
      // 1 storage, 2 stream, 5 root; 0 is an unused slot.
      if (type !== 1 && type !== 2 && type !== 5) continue;
      const nameBytes = Math.min(bytes.readUInt16LE(at + 0x40), 64);
      // The length counts the terminating NUL.
      const name = bytes.toString("utf16le", at, at + Math.max(0, nameBytes - 2));
      names.push(name);
    }
    sector = await nextSector(sector);
  }
  if (names.length === 0) throw new CfbFormatError("empty directory");
  return names;
}
