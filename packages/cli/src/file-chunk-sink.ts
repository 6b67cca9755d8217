import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, mkdtemp, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CHUNKS_OBJECT, MANIFEST_OBJECT, type Manifest } from "@sluice/contract";
import { type ChunkMeta, type ChunkSink, OutputWriteError } from "@sluice/core";

/**
 * Writes chunks.jsonl and manifest.json into a hidden working directory beside `outDir`, and moves them into
 * place only on `commit()`: a failed conversion leaves nothing half-written behind.
 */
export class FileChunkSink implements ChunkSink {
  private constructor(
    readonly outDir: string,
    private readonly workDir: string,
    private readonly stream: WriteStream,
  ) {}

  static async create(outDir: string): Promise<FileChunkSink> {
    try {
      await mkdir(dirname(outDir), { recursive: true });
      const workDir = await mkdtemp(join(dirname(outDir), `.${basename(outDir)}.partial-`));
      const stream = createWriteStream(join(workDir, CHUNKS_OBJECT), { highWaterMark: 1024 * 1024 });
      return new FileChunkSink(outDir, workDir, stream);
    } catch (error) {
      throw new OutputWriteError(
        `Cannot prepare the output directory ${outDir}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  async writeChunk(line: Buffer, _meta: ChunkMeta): Promise<void> {
    if (!this.stream.write(line)) {
      const [error] = await Promise.race([
        once(this.stream, "drain").then(() => [undefined]),
        once(this.stream, "error"),
      ]);
      if (error)
        throw new OutputWriteError(`Writing ${CHUNKS_OBJECT} failed: ${(error as Error).message}`, {
          cause: error,
        });
    }
  }

  async commit(manifest: Manifest): Promise<void> {
    try {
      await new Promise<void>((resolve, reject) =>
        this.stream.end((error?: Error | null) => (error ? reject(error) : resolve())),
      );
      await writeFile(join(this.workDir, MANIFEST_OBJECT), `${JSON.stringify(manifest, null, 2)}\n`);
      await mkdir(this.outDir, { recursive: true });
      // Chunks first, manifest last: a manifest in place always describes the chunks beside it.
      await rename(join(this.workDir, CHUNKS_OBJECT), join(this.outDir, CHUNKS_OBJECT));
      await rename(join(this.workDir, MANIFEST_OBJECT), join(this.outDir, MANIFEST_OBJECT));
      await rmdir(this.workDir);
    } catch (error) {
      await this.abort();
      throw new OutputWriteError(`Writing the output to ${this.outDir} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async abort(): Promise<void> {
    this.stream.destroy();
    await rm(this.workDir, { recursive: true, force: true });
  }
}
