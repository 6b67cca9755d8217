/**
 * How the page words numbers, sizes, rates and times for the people who upload (not engineers). Pure functions:
 * the locale is a parameter so the tests pin it; the page passes the browser's.
 */
import type { UploadStage } from "@sluice/admin";

const UNITS = ["bytes", "KB", "MB", "GB", "TB"] as const;

/** 1,966,499 -> "1.9 MB" (binary steps, as file managers on Windows show them). */
export function formatBytes(bytes: number, locale = "en"): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "–";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${formatCount(bytes, locale)} ${bytes === 1 ? "byte" : "bytes"}`;
  const digits = value < 10 ? 1 : 0;
  return `${value.toLocaleString(locale, { maximumFractionDigits: digits })} ${UNITS[unit]}`;
}

export function formatCount(n: number, locale = "en"): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString(locale) : "–";
}

/**
 * A whole percent, rounded down so "100 %" means done; null while unknown. The space before % follows the
 * SI style the page uses throughout.
 */
export function formatPercent(percent: number | null): string {
  if (percent === null || !Number.isFinite(percent)) return "–";
  return `${Math.max(0, Math.min(100, Math.floor(percent)))} %`;
}

/** The share of `total` that `loaded` is, 0..100 (0 when total is unknown or zero). */
export function percentOf(loaded: number, total: number): number {
  if (!(total > 0)) return 0;
  return Math.max(0, Math.min(100, (loaded / total) * 100));
}

/** 12345.6 -> "12,346 rows/s"; null -> "–". */
export function formatRate(rowsPerSecond: number | null, locale = "en"): string {
  if (rowsPerSecond === null || !Number.isFinite(rowsPerSecond)) return "–";
  return `${formatCount(rowsPerSecond, locale)} rows/s`;
}

/** An ETA or a duration: "less than 5 s", "42 s", "3 min 5 s", "1 h 12 min"; null -> "–". */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return "–";
  const s = Math.round(seconds);
  if (s < 5) return "less than 5 s";
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const rest = s % 60;
    return rest === 0 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 60)} min ${rest} s`;
  }
  const minutes = Math.floor((s % 3600) / 60);
  return minutes === 0 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 3600)} h ${minutes} min`;
}

/** What each stage of an upload means to the person watching it. */
export const STAGE_LABELS: Record<UploadStage, string> = {
  waiting: "Received, waiting for the import to start",
  converting: "Reading the workbook",
  delivering: "Importing rows",
  succeeded: "Import finished",
  failed: "Import failed",
};

/** An ISO time as the person's local date and time, "2026-11-30 23:41:07" style; null -> "–". */
export function formatTime(iso: string | null, locale = "en", timeZone?: string): string {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "–";
  return date.toLocaleString(locale, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
    ...(timeZone ? { timeZone } : {}),
  });
}
