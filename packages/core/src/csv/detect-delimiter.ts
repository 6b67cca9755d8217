import Papa from "papaparse";

export type LineEnding = "\r\n" | "\n" | "\r";

export const DELIMITER_CANDIDATES = [",", ";", "\t", "|"] as const;

/** Records of the sample that vote on the delimiter. */
const SAMPLE_RECORDS = 50;

/**
 * Excel's `sep=X` first line (what Excel writes and honours to force a delimiter). Returns the delimiter and
 * how many characters the line takes, its line break included, so the caller can skip it.
 */
export function parseSepLine(text: string): { delimiter: string; length: number } | undefined {
  const match = /^sep=([^\r\n"])(\r\n|\n|\r|$)/i.exec(text);
  if (!match) return undefined;
  return { delimiter: match[1]!, length: match[0].length };
}

/** The first line break outside quotes decides; without one, any line break; otherwise LF. */
export function detectLineEnding(text: string): LineEnding {
  let inQuotes = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) inQuotes = !inQuotes;
    else if (!inQuotes && (c === 0x0a || c === 0x0d)) return lineEndingAt(text, i);
  }
  const cr = text.indexOf("\r");
  const lf = text.indexOf("\n");
  if (cr === -1 && lf === -1) return "\n";
  return lineEndingAt(text, cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf));
}

function lineEndingAt(text: string, i: number): LineEnding {
  if (text.charCodeAt(i) === 0x0a) return "\n";
  return text.charCodeAt(i + 1) === 0x0a ? "\r\n" : "\r";
}

/**
 * Picks among `,` `;` tab `|` by parsing the first records with each (so quoted text does not vote): the
 * delimiter whose records agree best with the first record's field count wins, then the one giving more
 * fields. No candidate splitting the first record means a single column: `,`.
 * `complete` says `text` is the whole file (otherwise its last record may be cut and is ignored).
 */
export function detectDelimiter(text: string, newline: LineEnding, complete: boolean): string {
  let best = ",";
  let bestAgreement = -1;
  let bestFields = 1;
  for (const delimiter of DELIMITER_CANDIDATES) {
    const records = sampleRecords(text, delimiter, newline, complete);
    const first = records[0];
    if (first === undefined || first.length < 2) continue;
    let agree = 0;
    for (const record of records) if (record.length === first.length) agree++;
    const agreement = agree / records.length;
    if (agreement > bestAgreement || (agreement === bestAgreement && first.length > bestFields)) {
      best = delimiter;
      bestAgreement = agreement;
      bestFields = first.length;
    }
  }
  return best;
}

function sampleRecords(text: string, delimiter: string, newline: LineEnding, complete: boolean): string[][] {
  const parse = (ignoreLastRow: boolean): string[][] => {
    const parser = new Papa.Parser({ delimiter, newline, preview: SAMPLE_RECORDS + 1 });
    const data = parser.parse(text, 0, ignoreLastRow).data as string[][];
    // Blank lines say nothing about the delimiter.
    return data.filter((record) => record.length > 1 || (record[0] ?? "") !== "").slice(0, SAMPLE_RECORDS);
  };
  const records = parse(!complete);
  // A first record longer than the sample still tells something.
  return records.length > 0 || complete ? records : parse(false);
}
