import type { WriteStream } from "node:tty";
import type { ConvertProgress } from "@sluice/core";

/** One self-rewriting stderr line while converting; only used on a terminal, so pipes stay clean. */
export class ConvertProgressLine {
  private readonly started = performance.now();
  private lastDraw = 0;

  constructor(private readonly out: WriteStream) {}

  update(progress: ConvertProgress): void {
    const now = performance.now();
    if (now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? Math.round(progress.rows / seconds) : 0;
    this.out.write(
      `\r\x1b[2Kconverting: ${progress.rows.toLocaleString("en")} rows, ${progress.chunks.toLocaleString("en")} chunks, ${rate.toLocaleString("en")} rows/s`,
    );
  }

  done(): void {
    const seconds = ((performance.now() - this.started) / 1000).toFixed(1);
    this.out.write(`\r\x1b[2Kconverted in ${seconds}s\n`);
    this.lastDraw = Number.POSITIVE_INFINITY;
  }

  clear(): void {
    if (this.lastDraw !== Number.POSITIVE_INFINITY) this.out.write("\r\x1b[2K");
  }
}
