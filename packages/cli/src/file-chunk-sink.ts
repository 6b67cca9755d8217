import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, mkdtemp, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Manifest } from "@sluice/contract";
import { CHUNKS_OBJECT, MANIFEST_OBJECT } from "@sluice/contract/constants";
import { type ChunkMeta, type ChunkSink, OutputWriteError } from "@sluice/core";

/**
 * Writes chunks.jsonl and manifest.json into a hidden working directory beside `outDir`, and moves them into
 * place only on `commit()`: a failed conversion leaves nothing half-written behind.
 *
 * Every error the write stream can report is handled: one listener is attached from the start and keeps the
 * first error, which the next write, the commit or a write's callback turns into an OutputWriteError. Without it a
 * stream torn down while a write is in flight (the conversion stopped by a limit) emits an 'error' nobody hears,
 * and Node ends the process with a stack trace instead of the conversion's own typed error.
 */
export class FileChunkSink implements ChunkSink {
  private failure: Error | undefined;
  private readonly closed: Promise<void>;

  private constructor(
    readonly outDir: string,
    private readonly workDir: string,
    private readonly stream: WriteStream,
  ) {
    stream.on("error", (error) => {
      this.failure ??= error;
    });
    this.closed = new Promise((resolve) => stream.once("close", () => resolve()));
  }

  static async create(outDir: string): Promise<FileChunkSink> {
    let workDir: string | undefined;
    try {
      await mkdir(dirname(outDir), { recursive: true });
      workDir = await mkdtemp(join(dirname(outDir), `.${basename(outDir)}.partial-`));
      const stream = createWriteStream(join(workDir, CHUNKS_OBJECT), { highWaterMark: 1024 * 1024 });
      return new FileChunkSink(outDir, workDir, stream);
    } catch (error) {
      if (workDir) await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
      throw new OutputWriteError(
        `Cannot prepare the output directory ${outDir}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  async writeChunk(line: Buffer, _meta: ChunkMeta): Promise<void> {
    this.throwIfFailed();
    // The bytes are lent (see ChunkSink): wait until they are written, not only queued. A destroyed stream
    // calls back with an error too.
    await new Promise<void>((resolve, reject) => {
      this.stream.write(line, (error) => (error ? reject(writeError(error)) : resolve()));
    });
  }

  async commit(manifest: Manifest): Promise<void> {
    try {
      this.throwIfFailed();
      // 'close' follows both the end of writing and an error, which the listener has kept by then.
      this.stream.end();
      await this.closed;
      this.throwIfFailed();
      await writeFile(join(this.workDir, MANIFEST_OBJECT), `${JSON.stringify(manifest, null, 2)}\n`);
      await mkdir(this.outDir, { recursive: true });
      // Chunks first, manifest last: a manifest in place always describes the chunks beside it.
      await rename(join(this.workDir, CHUNKS_OBJECT), join(this.outDir, CHUNKS_OBJECT));
      await rename(join(this.workDir, MANIFEST_OBJECT), join(this.outDir, MANIFEST_OBJECT));
      await rmdir(this.workDir);
    } catch (error) {
      await this.abort().catch(() => undefined);
      throw new OutputWriteError(`Writing the output to ${this.outDir} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /**
   * Removes the working directory. The stream is destroyed and its close awaited first, so no write still in
   * flight lands in (or recreates) the directory after it is gone; its errors are the listener's.
   */
  async abort(): Promise<void> {
    if (!this.stream.closed) {
      this.stream.destroy();
      await this.closed;
    }
    await rm(this.workDir, { recursive: true, force: true });
  }

  private throwIfFailed(): void {
    if (this.failure) throw writeError(this.failure);
  }
}

function writeError(error: unknown): OutputWriteError {
  if (error instanceof OutputWriteError) return error;
  return new OutputWriteError(`Writing ${CHUNKS_OBJECT} failed: ${(error as Error).message}`, {
    cause: error,
  });
}
