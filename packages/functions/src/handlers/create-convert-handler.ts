import type { S3Client } from "@aws-sdk/client-s3";
import { type ConvertOutput, ExecutionInputSchema, processedPrefixOf } from "@sluice/contract";
import { convertWorkbook } from "@sluice/core";
import { originalNameOf } from "../adapters/original-name.ts";
import { S3ByteSource } from "../adapters/s3-byte-source.ts";
import { S3ChunkSink } from "../adapters/s3-chunk-sink.ts";
import { withLambdaErrors } from "../lambda-error.ts";
import { type Logger, logUpload } from "../logger.ts";
import { parseInput } from "../parse-input.ts";

export interface ConvertDeps {
  s3: S3Client;
  /** Bucket that receives processed/<uploadId>/chunks.jsonl, items.jsonl and manifest.json. */
  bucketName: string;
  /** Ends with "/", e.g. "processed/". */
  processedPrefix: string;
  chunkRows?: number;
  chunkBytes?: number;
  logger: Logger;
  /** Multipart part size for chunks.jsonl and items.jsonl (tests); lib-storage's 5 MiB by default. */
  partSize?: number;
  /** Milliseconds since some fixed point, for `durationMs` (tests); `performance.now` by default. */
  clock?: () => number;
}

/**
 * Streams the uploaded workbook into byte-bounded chunks in S3 (chunks.jsonl), the Map's items (items.jsonl: one
 * chunk pointer per line) and manifest.json; returns only counts and locations.
 */
export function createHandler(deps: ConvertDeps) {
  const clock = deps.clock ?? (() => performance.now());
  return (event: unknown): Promise<ConvertOutput> =>
    withLambdaErrors(async () => {
      const started = clock();
      const { uploadId, source: location } = parseInput(ExecutionInputSchema, event, "convert");
      logUpload(deps.logger, uploadId);
      const prefix = processedPrefixOf(uploadId, deps.processedPrefix);
      const source = await S3ByteSource.open({ client: deps.s3, ...location });
      const sink = new S3ChunkSink({
        client: deps.s3,
        bucket: deps.bucketName,
        prefix,
        ...(deps.partSize ? { partSize: deps.partSize } : {}),
      });
      try {
        const converted = await convertWorkbook({
          source,
          uploadId,
          sink,
          options: { chunkRows: deps.chunkRows, chunkBytes: deps.chunkBytes },
        });
        // The converter knows bytes, not S3: the name an upload form kept in the object's metadata is added here.
        const originalName = originalNameOf(source.metadata);
        const manifest = originalName === undefined ? converted : { ...converted, originalName };
        await sink.commit(manifest);
        const output: ConvertOutput = {
          uploadId,
          processed: {
            bucket: deps.bucketName,
            prefix,
            chunksKey: sink.chunksKey,
            itemsKey: sink.itemsKey,
            manifestKey: sink.manifestKey,
          },
          totalRows: manifest.totalRows,
          totalChunks: manifest.totalChunks,
          sheet: manifest.sheet,
          format: manifest.format,
          rowErrors: manifest.rowErrors.count,
          warnings: manifest.warnings.count,
          durationMs: Math.max(0, Math.round(clock() - started)),
          bytes: manifest.bytes,
        };
        deps.logger.info("Converted", {
          ...output,
          sourceBytes: source.size,
          ...(originalName === undefined ? {} : { originalName }),
        });
        return output;
      } catch (error) {
        await sink.abort();
        deps.logger.error("Conversion failed", { error: error as Error });
        throw error;
      } finally {
        await source.close();
      }
    });
}
