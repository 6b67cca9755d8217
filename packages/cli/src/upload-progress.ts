import type { RuntimeEvent } from "@sluice/runtime";
import { SingleBar } from "cli-progress";

export interface ProgressSnapshot {
  totalRows: number;
  totalChunks: number;
  rowsSent: number;
  chunksSent: number;
  chunksDone: number;
  rowsDone: number;
  accepted: number;
  rejected: number;
  inFlight: number;
  rowsPerSecond: number;
  etaSeconds: number | undefined;
}

/**
 * Follows one upload through the runtime's events. Totals are known as soon as the workbook is converted, so
 * progress is a fraction from the first chunk on: what a bare queue could never tell.
 */
export class UploadProgress {
  private readonly started = performance.now();
  private snapshotState: Omit<ProgressSnapshot, "rowsPerSecond" | "etaSeconds" | "inFlight"> = {
    totalRows: 0,
    totalChunks: 0,
    rowsSent: 0,
    chunksSent: 0,
    chunksDone: 0,
    rowsDone: 0,
    accepted: 0,
    rejected: 0,
  };
  private readonly inFlight = new Set<number>();
  private maxInFlight = 0;

  constructor(private readonly uploadId?: string) {}

  apply(event: RuntimeEvent): void {
    if (this.uploadId && "uploadId" in event && event.uploadId !== this.uploadId) return;
    const s = this.snapshotState;
    switch (event.type) {
      case "converted":
        s.totalRows = event.totalRows;
        s.totalChunks = event.totalChunks;
        break;
      case "chunk_sent":
        if (!this.inFlight.has(event.index)) {
          s.chunksSent++;
          s.rowsSent += event.rows;
        }
        this.inFlight.add(event.index);
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight.size);
        break;
      case "chunk_done":
        this.inFlight.delete(event.index);
        s.chunksDone++;
        s.rowsDone += event.rows;
        s.accepted += event.accepted;
        s.rejected += event.rejected;
        break;
      case "chunk_failed":
        this.inFlight.delete(event.index);
        break;
      default:
        break;
    }
  }

  /** The most chunks that were ever out at once (bounded by the Map's MaxConcurrency). */
  get peakInFlight(): number {
    return this.maxInFlight;
  }

  snapshot(): ProgressSnapshot {
    const seconds = (performance.now() - this.started) / 1000;
    const s = this.snapshotState;
    const rowsPerSecond = seconds > 0 ? s.rowsDone / seconds : 0;
    const left = s.totalRows - s.rowsDone;
    return {
      ...s,
      inFlight: this.inFlight.size,
      rowsPerSecond,
      etaSeconds: rowsPerSecond > 0 && s.totalRows > 0 ? left / rowsPerSecond : undefined,
    };
  }
}

/** A progress bar on stderr (a terminal only), fed by UploadProgress snapshots. */
export class ProgressBar {
  private readonly bar = new SingleBar(
    {
      stream: process.stderr,
      format:
        "{bar} {percentage}% | chunks {chunksDone}/{totalChunks} ({inFlight} in flight) | rows {rowsDone}/{totalRows} | {rate} rows/s | ETA {eta_text}",
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 20,
    },
    undefined,
  );
  private startedBar = false;

  update(s: ProgressSnapshot): void {
    if (s.totalChunks === 0) return;
    const payload = {
      chunksDone: s.chunksDone,
      totalChunks: s.totalChunks,
      inFlight: s.inFlight,
      rowsDone: s.rowsDone.toLocaleString("en"),
      totalRows: s.totalRows.toLocaleString("en"),
      rate: Math.round(s.rowsPerSecond).toLocaleString("en"),
      eta_text: s.etaSeconds === undefined ? "-" : `${Math.ceil(s.etaSeconds)}s`,
    };
    if (!this.startedBar) {
      this.bar.start(s.totalChunks, s.chunksDone, payload);
      this.startedBar = true;
    } else {
      this.bar.update(s.chunksDone, payload);
    }
  }

  stop(): void {
    if (this.startedBar) this.bar.stop();
  }
}
