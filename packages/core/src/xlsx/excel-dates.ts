/**
 * Excel date serials to ISO 8601 text, by integer arithmetic in UTC: local time zones never take part, so a
 * 1941 Kolkata offset change cannot shift a value.
 */

/** How a cell's number format shows a number. */
export const NOT_DATE = 0;
/** Date or date-time: `YYYY-MM-DD`, or `YYYY-MM-DDTHH:mm:ss` when the time part is not zero. */
export const DATE = 1;
/** Time of day only: `HH:mm:ss`. */
export const TIME = 2;
/** Elapsed time (`[h]:mm:ss`): hours keep counting past 24. */
export const ELAPSED = 3;
export type DateKind = 0 | 1 | 2 | 3;

const SECONDS_PER_DAY = 86_400;
/** 9999-12-31, Excel's last date, in each system. */
const MAX_SERIAL_1900 = 2_958_466;
const MAX_SERIAL_1904 = 2_957_004;
/** Days from 1970-01-01 to each system's day 0. */
const EPOCH_1900_BEFORE_LEAP_BUG = -25_568; // 1899-12-31: serial 1 = 1900-01-01
const EPOCH_1900 = -25_569; // 1899-12-30: serials >= 61, past Excel's fictitious 1900-02-29
const EPOCH_1904 = -24_107; // 1904-01-01

const DAY_CACHE_SLOTS = 8192;
const DAY_CACHE_MASK = DAY_CACHE_SLOTS - 1;
/** Keys never met (a day number is at least -2,957,005): an empty slot matches nothing. */
const dayKeys = new Int32Array(DAY_CACHE_SLOTS).fill(-0x7fffffff);
const dayValues: (string | undefined)[] = new Array(DAY_CACHE_SLOTS);
const dayNumbers = new Int32Array(DAY_CACHE_SLOTS);

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function pad4(n: number): string {
  return n >= 1000 ? String(n) : String(n).padStart(4, "0");
}

/** Days since 1970-01-01 to a civil date as y * 10000 + m * 100 + d (H. Hinnant's algorithm, proleptic Gregorian). */
function civilParts(days: number): number {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return y * 10_000 + m * 100 + d;
}

function ymdText(ymd: number): string {
  return `${pad4(Math.floor(ymd / 10_000))}-${pad2(Math.floor(ymd / 100) % 100)}-${pad2(ymd % 100)}`;
}

function civilFromDays(days: number): string {
  return ymdText(civilParts(days));
}

function timeText(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return `${pad2(h)}:${pad2(m)}:${pad2(seconds % 60)}`;
}

/** Serials past 9999-12-31 in each system stay numbers. */
function inRange(serial: number, date1904: boolean): boolean {
  return serial >= 0 && serial < (date1904 ? MAX_SERIAL_1904 : MAX_SERIAL_1900);
}

/** A serial's whole seconds (rounded to the nearest), as days and the seconds within the day. */
function split(serial: number): { total: number; days: number; seconds: number } {
  const total = Math.round(serial * SECONDS_PER_DAY);
  const days = Math.floor(total / SECONDS_PER_DAY);
  return { total, days, seconds: total - days * SECONDS_PER_DAY };
}

/** y * 10000 + m * 100 + d of a serial's day, for either date system (Excel's 1900-02-29 included). */
function dayParts(days: number, date1904: boolean): number {
  if (date1904) return civilParts(EPOCH_1904 + days);
  if (days === 60) return 1900_02_29;
  return civilParts((days < 60 ? EPOCH_1900_BEFORE_LEAP_BUG : EPOCH_1900) + days);
}

/**
 * A serial under a date format, rounded to the nearest second. Negative or out-of-range serials stay numbers
 * (Excel shows ##### for them).
 */
export function serialToIso(serial: number, date1904: boolean, kind: DateKind): string | number {
  if (!inRange(serial, date1904)) return serial;
  const { total, days, seconds } = split(serial);
  if (kind === TIME) return timeText(seconds);
  if (kind === ELAPSED) return timeText(total);
  // Real columns repeat a modest set of days: a direct-mapped cache by day (fixed size whatever the file).
  const key = date1904 ? -1 - days : days;
  const slot = key & DAY_CACHE_MASK;
  let date: string;
  if (dayKeys[slot] === key) date = dayValues[slot]!;
  else {
    const ymd = dayParts(days, date1904);
    date = ymdText(ymd);
    dayKeys[slot] = key;
    dayValues[slot] = date;
    dayNumbers[slot] = ymd;
  }
  return seconds === 0 ? date : `${date}T${timeText(seconds)}`;
}

/**
 * `serialToIso` of a DATE-kind serial written as its JSON string (quotes included) at `at`, with no string
 * made; returns the end, or -1 when the serial stays a number. Room: 21 bytes.
 */
export function writeSerialIsoJson(serial: number, date1904: boolean, out: Buffer, at: number): number {
  if (!inRange(serial, date1904)) return -1;
  // As `split`, without the object: this runs for every date cell of a sheet.
  const total = Math.round(serial * SECONDS_PER_DAY);
  const days = Math.floor(total / SECONDS_PER_DAY);
  const seconds = total - days * SECONDS_PER_DAY;
  const key = date1904 ? -1 - days : days;
  const slot = key & DAY_CACHE_MASK;
  let ymd: number;
  if (dayKeys[slot] === key) ymd = dayNumbers[slot]!;
  else {
    ymd = dayParts(days, date1904);
    dayKeys[slot] = key;
    dayValues[slot] = ymdText(ymd);
    dayNumbers[slot] = ymd;
  }
  const year = Math.floor(ymd / 10_000);
  const md = ymd - year * 10_000;
  out[at] = 0x22;
  twoDigits(out, at + 1, Math.floor(year / 100));
  twoDigits(out, at + 3, year % 100);
  out[at + 5] = 0x2d;
  twoDigits(out, at + 6, Math.floor(md / 100));
  out[at + 8] = 0x2d;
  twoDigits(out, at + 9, md % 100);
  if (seconds === 0) {
    out[at + 11] = 0x22;
    return at + 12;
  }
  const hours = Math.floor(seconds / 3600);
  const rest = seconds - hours * 3600;
  const minutes = Math.floor(rest / 60);
  out[at + 11] = 0x54; // T
  twoDigits(out, at + 12, hours);
  out[at + 14] = 0x3a;
  twoDigits(out, at + 15, minutes);
  out[at + 17] = 0x3a;
  twoDigits(out, at + 18, rest - minutes * 60);
  out[at + 20] = 0x22;
  return at + 21;
}

/** `n` (0 <= n < 100) as two digits. */
function twoDigits(out: Buffer, at: number, n: number): void {
  const tens = (n / 10) | 0;
  out[at] = 0x30 + tens;
  out[at + 1] = 0x30 + n - tens * 10;
}

const ISO_DATE_TIME =
  /^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?\s*$/;
const ISO_TIME = /^\s*(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*$/;

/**
 * `t="d"` cells hold ISO 8601 text; they follow the same output rules as serials. An offset, if any, is dropped:
 * spreadsheet date-times are wall-clock values. Text that is not ISO 8601 is returned unchanged.
 */
export function normaliseIsoDate(text: string): string {
  const dt = ISO_DATE_TIME.exec(text);
  if (dt) {
    const [, y, mo, d, h, mi, s, frac] = dt;
    const ms = Date.UTC(
      Number(y),
      Number(mo) - 1,
      Number(d),
      Number(h ?? 0),
      Number(mi ?? 0),
      Number(s ?? 0),
    );
    if (Number.isNaN(ms)) return text;
    const total = Math.round(ms / 1000 + (frac ? Number(frac) : 0));
    const days = Math.floor(total / SECONDS_PER_DAY);
    const seconds = total - days * SECONDS_PER_DAY;
    // Date.UTC maps years 0-99 to 1900-1999; rebuild from the parsed year for those.
    const date = Number(y) < 100 ? `${y}-${mo}-${d}` : civilFromDays(days);
    return seconds === 0 ? date : `${date}T${timeText(seconds)}`;
  }
  const t = ISO_TIME.exec(text);
  if (t) {
    const [, h, mi, s, frac] = t;
    const total = Math.round(Number(h) * 3600 + Number(mi) * 60 + Number(s ?? 0) + (frac ? Number(frac) : 0));
    return timeText(total);
  }
  return text;
}
