import { createHash, randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream, readFileSync, rmSync, writeFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { FauxqsInternals, FauxqsS3Error, FauxqsStores } from "./fauxqs-internals.ts";
import { escapeXml } from "./s3-error-xml.ts";

/**
 * The local bucket's storage: object bodies in files under a directory the emulator owns, never in memory,
 * and every bucket versioned (the stack's bucket is): each write is a new version with its own id, a delete
 * without a version id adds a delete marker, and any version stays readable by its id.
 */

interface Version {
  key: string;
  versionId: string;
  deleteMarker: boolean;
  /**
   * The body's files, in order: one for a PUT; a multipart upload's parts as they were uploaded (joining them
   * into one file would copy every byte once more at CompleteMultipartUpload). None for a delete marker.
   */
  segments?: Segment[];
  contentType: string;
  contentLength: number;
  etag: string;
  lastModified: Date;
  metadata: Record<string, string>;
}

interface Segment {
  file: string;
  size: number;
}

/** The bytes `start`..`end` (inclusive) of a body kept in segments, read from disk as they are sent. */
function readSegments(segments: Segment[], start: number, end: number): Readable {
  const ranges: { file: string; start: number; end: number }[] = [];
  let offset = 0;
  for (const segment of segments) {
    const from = Math.max(start, offset);
    const to = Math.min(end, offset + segment.size - 1);
    if (from <= to) ranges.push({ file: segment.file, start: from - offset, end: to - offset });
    offset += segment.size;
  }
  if (ranges.length === 1) return createReadStream(ranges[0]!.file, ranges[0]);
  return Readable.from(
    (async function* () {
      for (const range of ranges) yield* createReadStream(range.file, range);
    })(),
    { objectMode: false },
  );
}

/** The whole body in one Buffer (fauxqs's own actions, e.g. CopyObject, ask for it). */
function readWhole(segments: Segment[] | undefined): Buffer {
  if (!segments || segments.length === 0) return Buffer.alloc(0);
  if (segments.length === 1) return readFileSync(segments[0]!.file);
  return Buffer.concat(segments.map((segment) => readFileSync(segment.file)));
}

interface Part {
  file: string;
  size: number;
  etag: string;
  md5: Buffer;
}

interface MultipartUpload {
  bucket: string;
  key: string;
  contentType: string;
  metadata: Record<string, string>;
  parts: Map<number, Part>;
}

/** An object just created, as S3 event notifications describe it ("ObjectCreated:Put", ...). */
export interface ObjectCreated {
  eventName: "ObjectCreated:Put" | "ObjectCreated:CompleteMultipartUpload" | "ObjectCreated:Copy";
  bucket: string;
  key: string;
  size: number;
  /** Without quotes, as the event carries it. */
  eTag: string;
  versionId: string;
  eventTime: Date;
}

/** What fauxqs's own S3 actions read from a store: its S3Object, with the body read from disk on demand. */
type StoredObject = ReturnType<FauxqsStores["s3Store"]["getObject"]>;

/** The minimum size of every part but the last (CompleteMultipartUpload checks it, as AWS does). */
const MIN_PART_SIZE = 5 * 1024 * 1024;

export class LocalS3Store {
  private readonly buckets = new Map<string, { created: Date; objects: Map<string, Version[]> }>();
  private readonly uploads = new Map<string, MultipartUpload>();
  private files = 0;
  /** Told of every object created, after it is stored (the emulator's S3 event notifications). */
  onCreated: ((event: ObjectCreated) => void) | undefined;

  constructor(
    /** Where bodies are kept; the emulator creates it and removes it on stop. */
    readonly dir: string,
    private readonly fauxqs: Pick<FauxqsInternals, "S3Error">,
  ) {}

  private error(code: string, message: string, status: number, resource?: string): FauxqsS3Error {
    return new this.fauxqs.S3Error(code, message, status, resource);
  }

  private newFile(): string {
    return join(this.dir, `${++this.files}.bin`);
  }

  private objects(bucket: string): Map<string, Version[]> {
    const found = this.buckets.get(bucket);
    if (!found) throw this.error("NoSuchBucket", `The specified bucket does not exist: ${bucket}`, 404);
    return found.objects;
  }

  private record(
    bucket: string,
    version: Omit<Version, "versionId" | "lastModified">,
    created?: ObjectCreated["eventName"],
  ): Version {
    const objects = this.objects(bucket);
    const stored: Version = { ...version, versionId: newVersionId(), lastModified: new Date() };
    const versions = objects.get(version.key) ?? [];
    versions.push(stored);
    objects.set(version.key, versions);
    if (created && this.onCreated) {
      this.onCreated({
        eventName: created,
        bucket,
        key: stored.key,
        size: stored.contentLength,
        eTag: stored.etag.replaceAll('"', ""),
        versionId: stored.versionId,
        eventTime: stored.lastModified,
      });
    }
    return stored;
  }

  /**
   * A conditional write's `If-None-Match: *`: S3 refuses it with 412 when the key has a current version; in a
   * versioned bucket only the current version counts, so a key whose current version is a delete marker may be
   * written ("How to prevent object overwrites with conditional writes", Amazon S3 User Guide).
   */
  private checkNoneMatch(bucket: string, key: string, ifNoneMatch: string | undefined): void {
    if (ifNoneMatch === undefined) return;
    if (ifNoneMatch.trim() !== "*") {
      throw this.error(
        "NotImplemented",
        "A header you provided implies functionality that is not implemented",
        501,
      );
    }
    const current = this.objects(bucket).get(key)?.at(-1);
    if (current && !current.deleteMarker) {
      throw this.error(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        412,
        `/${bucket}/${key}`,
      );
    }
  }

  /** The version named, or the current one; NoSuchKey when the current one is a delete marker. */
  version(bucket: string, key: string, versionId?: string): Version {
    const versions = this.objects(bucket).get(key) ?? [];
    if (versionId !== undefined) {
      const found = versions.find((v) => v.versionId === versionId);
      if (!found)
        throw this.error("NoSuchVersion", "The specified version does not exist.", 404, `/${bucket}/${key}`);
      if (found.deleteMarker) {
        throw Object.assign(
          this.error("MethodNotAllowed", "The specified method is not allowed against this resource.", 405),
          {
            deleteMarker: found,
          },
        );
      }
      return found;
    }
    const current = versions.at(-1);
    if (!current || current.deleteMarker) {
      throw Object.assign(
        this.error("NoSuchKey", "The specified key does not exist.", 404, `/${bucket}/${key}`),
        {
          ...(current ? { deleteMarker: current } : {}),
        },
      );
    }
    return current;
  }

  /** Writes a body (a Buffer, or a request streamed as it arrives) to a new file: its size and MD5. */
  private async write(
    body: Buffer | AsyncIterable<Buffer>,
  ): Promise<{ file: string; size: number; md5: Buffer }> {
    const file = this.newFile();
    const hash = createHash("md5");
    if (Buffer.isBuffer(body)) {
      await writeFile(file, body);
      return { file, size: body.length, md5: hash.update(body).digest() };
    }
    const out = createWriteStream(file);
    let size = 0;
    try {
      for await (const bytes of body) {
        hash.update(bytes);
        size += bytes.length;
        if (!out.write(bytes)) await once(out, "drain");
      }
      await new Promise<void>((resolve, reject) => {
        out.once("error", reject);
        out.end(resolve);
      });
    } catch (error) {
      out.destroy();
      await rm(file, { force: true });
      throw error;
    }
    return { file, size, md5: hash.digest() };
  }

  async put(
    bucket: string,
    key: string,
    body: Buffer | AsyncIterable<Buffer>,
    contentType: string,
    metadata: Record<string, string>,
    /** The request's If-None-Match: with `*`, the write fails when the key already has a current version. */
    ifNoneMatch?: string,
  ): Promise<Version> {
    this.checkNoneMatch(bucket, key, ifNoneMatch);
    const { file, size, md5 } = await this.write(body);
    this.checkWrittenMeanwhile(bucket, key, ifNoneMatch, file);
    return this.record(
      bucket,
      {
        key,
        deleteMarker: false,
        segments: [{ file, size }],
        contentType,
        contentLength: size,
        etag: `"${md5.toString("hex")}"`,
        metadata,
      },
      "ObjectCreated:Put",
    );
  }

  /**
   * Checked again once the body is stored: another conditional write of the key may have finished while this one's
   * bytes arrived. S3 answers such a race with 409 ConditionalRequestConflict (retry); the bytes are dropped.
   */
  private checkWrittenMeanwhile(bucket: string, key: string, ifNoneMatch: string | undefined, file: string) {
    try {
      this.checkNoneMatch(bucket, key, ifNoneMatch);
    } catch (error) {
      rmSync(file, { force: true });
      if ((error as FauxqsS3Error).code !== "PreconditionFailed") throw error;
      throw this.error(
        "ConditionalRequestConflict",
        "A conflicting conditional operation is currently in progress against this resource. Please try again.",
        409,
        `/${bucket}/${key}`,
      );
    }
  }

  async putPart(uploadId: string, partNumber: number, body: Buffer | AsyncIterable<Buffer>): Promise<string> {
    this.upload(uploadId);
    const { file, size, md5 } = await this.write(body);
    // Checked again: the upload may have been completed or aborted while the part was arriving.
    const upload = this.uploads.get(uploadId);
    if (!upload) {
      await rm(file, { force: true });
      this.upload(uploadId);
    }
    const previous = upload!.parts.get(partNumber);
    upload!.parts.set(partNumber, { file, size, md5, etag: `"${md5.toString("hex")}"` });
    if (previous) await rm(previous.file, { force: true });
    return `"${md5.toString("hex")}"`;
  }

  /**
   * The new version's body is the listed parts' files, in order, as they are (joining them into one file copied
   * every byte again: half a second for a 1M-row upload's chunks); the parts not listed are removed, as S3 drops
   * them. The ETag is S3's multipart ETag.
   */
  async complete(
    uploadId: string,
    specs: { partNumber: number; etag: string }[],
    ifNoneMatch?: string,
  ): Promise<Version> {
    const upload = this.upload(uploadId);
    this.checkNoneMatch(upload.bucket, upload.key, ifNoneMatch);
    const parts = this.checkParts(upload, specs);
    // No await since the check above: no other write of the key can have finished in between.
    const version = this.finish(uploadId, upload, parts);
    await Promise.all(this.unlisted(upload, parts).map((file) => rm(file, { force: true })));
    return version;
  }

  /** The files of an upload's parts that CompleteMultipartUpload did not list. */
  private unlisted(upload: MultipartUpload, listed: Part[]): string[] {
    const kept = new Set(listed.map((part) => part.file));
    return [...upload.parts.values()].map((part) => part.file).filter((file) => !kept.has(file));
  }

  private checkParts(upload: MultipartUpload, specs: { partNumber: number; etag: string }[]): Part[] {
    const invalidPart = () =>
      this.error(
        "InvalidPart",
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        400,
      );
    for (let i = 1; i < specs.length; i++) {
      if (specs[i]!.partNumber <= specs[i - 1]!.partNumber) {
        throw this.error(
          "InvalidPartOrder",
          "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
          400,
        );
      }
    }
    const parts = specs.map((spec) => {
      const part = upload.parts.get(spec.partNumber);
      if (!part || part.etag.replaceAll('"', "") !== spec.etag.replaceAll('"', "")) throw invalidPart();
      return part;
    });
    if (parts.slice(0, -1).some((part) => part.size < MIN_PART_SIZE))
      throw this.error(
        "EntityTooSmall",
        "Your proposed upload is smaller than the minimum allowed size",
        400,
      );
    return parts;
  }

  private finish(uploadId: string, upload: MultipartUpload, parts: Part[]): Version {
    const digest = createHash("md5")
      .update(Buffer.concat(parts.map((part) => part.md5)))
      .digest("hex");
    this.uploads.delete(uploadId);
    return this.record(
      upload.bucket,
      {
        key: upload.key,
        deleteMarker: false,
        segments: parts.map((part) => ({ file: part.file, size: part.size })),
        contentType: upload.contentType,
        contentLength: parts.reduce((sum, part) => sum + part.size, 0),
        etag: `"${digest}-${parts.length}"`,
        metadata: upload.metadata,
      },
      "ObjectCreated:CompleteMultipartUpload",
    );
  }

  /** DeleteObject: with a version id that version goes for good; without, a delete marker becomes current. */
  async remove(bucket: string, key: string, versionId?: string): Promise<Version | undefined> {
    const objects = this.objects(bucket);
    if (versionId === undefined) return this.addDeleteMarker(bucket, key);
    const versions = objects.get(key) ?? [];
    const index = versions.findIndex((v) => v.versionId === versionId);
    if (index < 0) return undefined;
    const [gone] = versions.splice(index, 1);
    if (versions.length === 0) objects.delete(key);
    await Promise.all((gone?.segments ?? []).map((segment) => rm(segment.file, { force: true })));
    return gone;
  }

  private upload(uploadId: string): MultipartUpload {
    const upload = this.uploads.get(uploadId);
    if (!upload) {
      throw this.error(
        "NoSuchUpload",
        "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        404,
      );
    }
    return upload;
  }

  // --- fauxqs's S3Store interface: what its own actions (bucket operations, listings, CopyObject, DeleteObjects,
  // CreateMultipartUpload, AbortMultipartUpload) call. Bodies are read from disk only when one asks for them.

  createBucket(name: string): void {
    if (!this.buckets.has(name)) this.buckets.set(name, { created: new Date(), objects: new Map() });
  }

  deleteBucket(name: string): void {
    const objects = this.objects(name);
    const uploading = [...this.uploads.values()].some((upload) => upload.bucket === name);
    if (objects.size > 0 || uploading) {
      throw this.error(
        "BucketNotEmpty",
        "The bucket you tried to delete is not empty. You must delete all versions in the bucket.",
        409,
      );
    }
    this.buckets.delete(name);
  }

  hasBucket(name: string): boolean {
    return this.buckets.has(name);
  }

  listBuckets(): { name: string; creationDate: Date }[] {
    return [...this.buckets]
      .map(([name, bucket]) => ({ name, creationDate: bucket.created }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  putObject(
    bucket: string,
    key: string,
    body: Buffer,
    contentType?: string,
    metadata?: Record<string, string>,
  ): StoredObject {
    this.objects(bucket);
    const file = this.newFile();
    writeFileSync(file, body);
    // Only fauxqs's CopyObject writes through here (every other PUT is answered by `put`).
    return this.view(
      this.record(
        bucket,
        {
          key,
          deleteMarker: false,
          segments: [{ file, size: body.length }],
          contentType: contentType ?? "application/octet-stream",
          contentLength: body.length,
          etag: `"${createHash("md5").update(body).digest("hex")}"`,
          metadata: metadata ?? {},
        },
        "ObjectCreated:Copy",
      ),
    );
  }

  getObject(bucket: string, key: string): StoredObject {
    return this.view(this.version(bucket, key));
  }

  headObject(bucket: string, key: string): StoredObject {
    return this.getObject(bucket, key);
  }

  deleteObject(bucket: string, key: string): void {
    this.addDeleteMarker(bucket, key);
  }

  /** A delete marker as the key's current version (a delete without a version id, in a versioned bucket). */
  private addDeleteMarker(bucket: string, key: string): Version {
    return this.record(bucket, {
      key,
      deleteMarker: true,
      contentType: "",
      contentLength: 0,
      etag: "",
      metadata: {},
    });
  }

  deleteObjects(bucket: string, keys: string[]): string[] {
    for (const key of keys) this.deleteObject(bucket, key);
    return keys;
  }

  listObjects(
    bucket: string,
    options?: { prefix?: string; delimiter?: string; maxKeys?: number; startAfter?: string; marker?: string },
  ): { objects: StoredObject[]; commonPrefixes: string[]; isTruncated: boolean } {
    const prefix = options?.prefix ?? "";
    const delimiter = options?.delimiter;
    const maxKeys = options?.maxKeys ?? 1000;
    const startAfter = options?.startAfter ?? options?.marker ?? "";
    const current = [...this.objects(bucket).values()]
      .map((versions) => versions.at(-1))
      .filter((v): v is Version => !!v && !v.deleteMarker && v.key.startsWith(prefix))
      .sort((a, b) => a.key.localeCompare(b.key));
    const objects: StoredObject[] = [];
    const prefixes = new Set<string>();
    let isTruncated = false;
    for (const version of current) {
      if (startAfter && version.key <= startAfter) continue;
      const rest = version.key.slice(prefix.length);
      const at = delimiter ? rest.indexOf(delimiter) : -1;
      if (delimiter && at >= 0) {
        const common = prefix + rest.slice(0, at + delimiter.length);
        if ((startAfter && common <= startAfter) || prefixes.has(common)) continue;
        if (objects.length + prefixes.size >= maxKeys) {
          isTruncated = true;
          break;
        }
        prefixes.add(common);
        continue;
      }
      if (objects.length + prefixes.size >= maxKeys) {
        isTruncated = true;
        break;
      }
      objects.push(this.view(version));
    }
    return { objects, commonPrefixes: [...prefixes].sort(), isTruncated };
  }

  /**
   * ListObjectVersions: every version and delete marker whose key starts with `prefix`, keys in ascending
   * (UTF-8 binary) order and each key's versions newest first, the newest one `isLatest`. `keyMarker` alone starts
   * after that key; with `versionIdMarker`, after that version of it. A delimiter rolls keys up into common
   * prefixes, each counted once against `maxKeys` and left out unless greater than the key marker. When truncated,
   * the next markers are the last entry returned, so a request with them continues where this one stopped.
   */
  listVersions(
    bucket: string,
    options: {
      prefix?: string;
      delimiter?: string;
      keyMarker?: string;
      versionIdMarker?: string;
      maxKeys?: number;
    } = {},
  ): VersionListing {
    const prefix = options.prefix ?? "";
    const { delimiter, keyMarker = "", versionIdMarker } = options;
    const maxKeys = Math.min(options.maxKeys ?? MAX_LIST_KEYS, MAX_LIST_KEYS);
    const keys = [...this.objects(bucket).keys()]
      .filter((key) => key.startsWith(prefix) && compareKeys(key, keyMarker) >= 0)
      .sort(compareKeys);
    const entries: VersionListing["entries"] = [];
    const commonPrefixes: string[] = [];
    let next: { key: string; versionId?: string } | undefined;
    const full = () => entries.length + commonPrefixes.length >= maxKeys;
    let isTruncated = false;
    walk: for (const key of keys) {
      const rest = key.slice(prefix.length);
      const at = delimiter ? rest.indexOf(delimiter) : -1;
      if (delimiter && at >= 0) {
        const common = prefix + rest.slice(0, at + delimiter.length);
        if (compareKeys(common, keyMarker) <= 0 || commonPrefixes.at(-1) === common) continue;
        if (full()) {
          isTruncated = true;
          break;
        }
        commonPrefixes.push(common);
        next = { key: common };
        continue;
      }
      const versions = (this.objects(bucket).get(key) ?? []).toReversed();
      let from = 0;
      if (key === keyMarker) {
        // The key marker itself: only its versions after the version id marker (none without one).
        const marker = versionIdMarker ? versions.findIndex((v) => v.versionId === versionIdMarker) : -1;
        if (marker < 0) continue;
        from = marker + 1;
      }
      for (let i = from; i < versions.length; i++) {
        if (full()) {
          isTruncated = true;
          break walk;
        }
        const version = versions[i]!;
        entries.push({ version, isLatest: i === 0 });
        next = { key, versionId: version.versionId };
      }
    }
    return {
      entries,
      commonPrefixes,
      isTruncated,
      ...(isTruncated && next
        ? { nextKeyMarker: next.key, ...(next.versionId ? { nextVersionIdMarker: next.versionId } : {}) }
        : {}),
    };
  }

  createMultipartUpload(
    bucket: string,
    key: string,
    contentType?: string,
    metadata?: Record<string, string>,
  ): string {
    this.objects(bucket);
    const uploadId = randomUUID();
    this.uploads.set(uploadId, {
      bucket,
      key,
      contentType: contentType ?? "application/octet-stream",
      metadata: metadata ?? {},
      parts: new Map(),
    });
    return uploadId;
  }

  uploadPart(uploadId: string, partNumber: number, body: Buffer): string {
    const upload = this.upload(uploadId);
    const file = this.newFile();
    writeFileSync(file, body);
    const md5 = createHash("md5").update(body).digest();
    upload.parts.set(partNumber, { file, size: body.length, md5, etag: `"${md5.toString("hex")}"` });
    return `"${md5.toString("hex")}"`;
  }

  completeMultipartUpload(uploadId: string, specs: { partNumber: number; etag: string }[]): StoredObject {
    const upload = this.upload(uploadId);
    this.objects(upload.bucket);
    const parts = this.checkParts(upload, specs);
    const version = this.finish(uploadId, upload, parts);
    for (const file of this.unlisted(upload, parts)) rmSync(file, { force: true });
    return this.view(version);
  }

  abortMultipartUpload(uploadId: string): void {
    const upload = this.upload(uploadId);
    this.uploads.delete(uploadId);
    for (const part of upload.parts.values()) rmSync(part.file, { force: true });
  }

  emptyBucket(name: string): void {
    this.buckets.get(name)?.objects.clear();
    for (const [id, upload] of this.uploads) if (upload.bucket === name) this.uploads.delete(id);
  }

  clearObjects(): void {
    for (const bucket of this.buckets.values()) bucket.objects.clear();
    this.uploads.clear();
  }

  purgeAll(): void {
    this.buckets.clear();
    this.uploads.clear();
  }

  private view(version: Version): StoredObject {
    const { segments } = version;
    return {
      key: version.key,
      contentType: version.contentType,
      contentLength: version.contentLength,
      etag: version.etag,
      lastModified: version.lastModified,
      metadata: version.metadata,
      get body() {
        return readWhole(segments);
      },
    };
  }
}

/** "By default, the action returns up to 1,000 key names" (ListObjectVersions' max-keys), and never more. */
const MAX_LIST_KEYS = 1000;

/** ListObjectVersions' result, before it is written as XML. */
export interface VersionListing {
  /** Versions and delete markers in listing order. */
  entries: { version: Version; isLatest: boolean }[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextVersionIdMarker?: string;
}

/** S3 lists keys in UTF-8 binary order (JavaScript's `<` compares UTF-16 units, which differs above U+FFFF). */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** S3 version ids are opaque strings; these look like S3's (32 URL-safe characters). */
function newVersionId(): string {
  return randomBytes(24).toString("base64url");
}

/**
 * The object requests whose bodies the store keeps on disk, answered from it: PutObject, UploadPart and
 * CompleteMultipartUpload (x-amz-version-id), GetObject (streamed from the file, only the range asked for) and
 * HeadObject with an optional versionId, DeleteObject. Everything else (buckets, listings, CopyObject,
 * DeleteObjects, Create/AbortMultipartUpload) stays fauxqs's own code, reading through the same store.
 */
export function useLocalS3Store(
  app: FastifyInstance,
  store: LocalS3Store,
  fauxqs: Pick<FauxqsInternals, "S3Error">,
) {
  // A plain (not aws-chunked) PUT body goes to disk as it arrives, before Fastify would collect it into one Buffer.
  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.method !== "PUT" || request.routeOptions.url !== "/:bucket/*") return;
    const params = request.params as { bucket: string; "*"?: string };
    if (!params["*"] || request.headers["x-amz-copy-source"]) return;
    if (String(request.headers["content-encoding"] ?? "").includes("aws-chunked")) return;
    return answer(request, reply, store, fauxqs, request.raw);
  });
  app.addHook("preHandler", async (request: FastifyRequest, reply: FastifyReply) => {
    // fauxqs answers GET /<bucket>?versions as a plain ListObjects (no versions): the store lists them itself.
    if (request.method === "GET" && isBucketRequest(request) && "versions" in (request.query as object))
      return answerVersions(request, reply, store, fauxqs);
    return answer(request, reply, store, fauxqs);
  });
}

/** A request to the bucket itself: `/<bucket>` or `/<bucket>/` (path-style, as the local clients address it). */
function isBucketRequest(request: FastifyRequest): boolean {
  const url = request.routeOptions.url;
  return url === "/:bucket" || (url === "/:bucket/*" && !(request.params as { "*"?: string })["*"]);
}

/** ListObjectVersions (GET /<bucket>?versions), in S3's XML. */
function answerVersions(
  request: FastifyRequest,
  reply: FastifyReply,
  store: LocalS3Store,
  fauxqs: Pick<FauxqsInternals, "S3Error">,
) {
  const { bucket } = request.params as { bucket: string };
  const query = (request.query ?? {}) as Record<string, string | undefined>;
  try {
    const maxKeysText = query["max-keys"];
    const maxKeys = maxKeysText === undefined ? undefined : Number(maxKeysText);
    if (maxKeys !== undefined && !(Number.isInteger(maxKeys) && maxKeys >= 0))
      throw new fauxqs.S3Error(
        "InvalidArgument",
        "Provided max-keys not an integer or within integer range",
        400,
      );
    const encodingType = query["encoding-type"];
    if (encodingType !== undefined && encodingType !== "url")
      throw new fauxqs.S3Error("InvalidArgument", "Invalid Encoding Method specified in Request", 400);
    const prefix = query.prefix ?? "";
    const keyMarker = query["key-marker"] ?? "";
    const versionIdMarker = query["version-id-marker"] ?? "";
    const { delimiter } = query;
    const listing = store.listVersions(bucket, {
      prefix,
      ...(delimiter ? { delimiter } : {}),
      keyMarker,
      ...(versionIdMarker ? { versionIdMarker } : {}),
      ...(maxKeys === undefined ? {} : { maxKeys }),
    });
    // encoding-type=url: key names (and the elements that hold them) percent-encoded.
    const name = (text: string) => escapeXml(encodingType === "url" ? encodeKey(text) : text);
    const element = (tag: string, text: string) => `<${tag}>${text}</${tag}>`;
    const xml = [
      `<?xml version="1.0" encoding="UTF-8"?>`,
      `<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`,
      element("Name", escapeXml(bucket)),
      element("Prefix", name(prefix)),
      element("KeyMarker", name(keyMarker)),
      element("VersionIdMarker", escapeXml(versionIdMarker)),
      ...(listing.nextKeyMarker === undefined ? [] : [element("NextKeyMarker", name(listing.nextKeyMarker))]),
      ...(listing.nextVersionIdMarker === undefined
        ? []
        : [element("NextVersionIdMarker", escapeXml(listing.nextVersionIdMarker))]),
      element("MaxKeys", String(maxKeys ?? MAX_LIST_KEYS)),
      ...(delimiter ? [element("Delimiter", name(delimiter))] : []),
      element("IsTruncated", String(listing.isTruncated)),
      ...listing.entries.map(({ version, isLatest }) => {
        const common = [
          element("Key", name(version.key)),
          element("VersionId", escapeXml(version.versionId)),
          element("IsLatest", String(isLatest)),
          // Whole seconds, as S3's listings show them and as Last-Modified (HeadObject) gives them.
          element(
            "LastModified",
            new Date(Math.floor(version.lastModified.getTime() / 1000) * 1000).toISOString(),
          ),
        ];
        return version.deleteMarker
          ? element("DeleteMarker", common.join(""))
          : element(
              "Version",
              [
                ...common,
                element("ETag", escapeXml(version.etag)),
                element("Size", String(version.contentLength)),
                element("StorageClass", "STANDARD"),
              ].join(""),
            );
      }),
      ...listing.commonPrefixes.map((common) => element("CommonPrefixes", element("Prefix", name(common)))),
      ...(encodingType ? [element("EncodingType", encodingType)] : []),
      `</ListVersionsResult>`,
    ].join("\n");
    return reply.header("content-type", "application/xml").status(200).send(xml);
  } catch (error) {
    if (!(error instanceof fauxqs.S3Error)) throw error;
    const s3 = error as FauxqsS3Error;
    return reply.header("content-type", "application/xml").status(s3.statusCode).send(s3.toXml());
  }
}

/** A key as S3 writes it with encoding-type=url: percent-encoded UTF-8, `/` kept. */
function encodeKey(key: string): string {
  return encodeURIComponent(key).replaceAll("%2F", "/");
}

async function answer(
  request: FastifyRequest,
  reply: FastifyReply,
  store: LocalS3Store,
  fauxqs: Pick<FauxqsInternals, "S3Error">,
  /** The request's body as it arrives, for a PUT answered before Fastify reads it. */
  stream?: AsyncIterable<Buffer>,
) {
  if (request.routeOptions.url !== "/:bucket/*") return;
  const params = request.params as { bucket: string; "*"?: string };
  const key = params["*"] ?? "";
  if (!key) return;
  const { bucket } = params;
  const query = (request.query ?? {}) as Record<string, string | undefined>;
  const versionId = query.versionId;
  try {
    switch (request.method) {
      case "PUT": {
        if (request.headers["x-amz-copy-source"]) return;
        const body = stream ?? requestBody(request);
        if (query.uploadId && query.partNumber) {
          const etag = await store.putPart(query.uploadId, Number.parseInt(query.partNumber, 10), body);
          return reply.header("etag", etag).status(200).send();
        }
        const version = await store.put(
          bucket,
          key,
          body,
          String(request.headers["content-type"] ?? "application/octet-stream"),
          metadataOf(request.headers),
          headerOf(request.headers["if-none-match"]),
        );
        return reply
          .header("etag", version.etag)
          .header("x-amz-version-id", version.versionId)
          .status(200)
          .send();
      }
      case "POST": {
        if (!query.uploadId || "uploads" in query) return;
        const version = await store.complete(
          query.uploadId,
          partsOf(requestBody(request).toString("utf8")),
          headerOf(request.headers["if-none-match"]),
        );
        const location = `http://${request.headers.host ?? "localhost"}/${bucket}/${key}`;
        const xml = [
          `<?xml version="1.0" encoding="UTF-8"?>`,
          `<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`,
          `  <Location>${escapeXml(location)}</Location>`,
          `  <Bucket>${escapeXml(bucket)}</Bucket>`,
          `  <Key>${escapeXml(key)}</Key>`,
          `  <ETag>${escapeXml(version.etag)}</ETag>`,
          `</CompleteMultipartUploadResult>`,
        ].join("\n");
        return reply
          .header("content-type", "application/xml")
          .header("x-amz-version-id", version.versionId)
          .status(200)
          .send(xml);
      }
      case "DELETE": {
        if (query.uploadId) return;
        const gone = await store.remove(bucket, key, versionId);
        if (gone) reply.header("x-amz-version-id", gone.versionId);
        if (gone?.deleteMarker) reply.header("x-amz-delete-marker", "true");
        return reply.status(204).send();
      }
      case "GET":
      case "HEAD":
        return read(request, reply, store.version(bucket, key, versionId), fauxqs);
      default:
        return;
    }
  } catch (error) {
    const s3 = error as FauxqsS3Error & { deleteMarker?: Version };
    if (!(error instanceof fauxqs.S3Error)) throw error;
    if (s3.deleteMarker) {
      reply.header("x-amz-delete-marker", "true").header("x-amz-version-id", s3.deleteMarker.versionId);
    }
    // A PUT refused before its body was read (a failed condition): read and drop the rest of it.
    if (stream) request.raw.resume();
    if (request.method === "HEAD") return reply.status(s3.statusCode).send();
    return reply.header("content-type", "application/xml").status(s3.statusCode).send(s3.toXml());
  }
}

function read(
  request: FastifyRequest,
  reply: FastifyReply,
  version: Version,
  fauxqs: Pick<FauxqsInternals, "S3Error">,
) {
  const h = request.headers;
  const failed = () =>
    new fauxqs.S3Error(
      "PreconditionFailed",
      "At least one of the pre-conditions you specified did not hold",
      412,
    );
  if (h["if-match"] && h["if-match"] !== version.etag) throw failed();
  if (h["if-none-match"] && h["if-none-match"] === version.etag) return reply.status(304).send();
  const since = (header: unknown) => (typeof header === "string" ? new Date(header) : undefined);
  const modifiedSince = since(h["if-modified-since"]);
  if (modifiedSince && !Number.isNaN(modifiedSince.getTime()) && version.lastModified <= modifiedSince)
    return reply.status(304).send();
  const unmodifiedSince = since(h["if-unmodified-since"]);
  if (unmodifiedSince && !Number.isNaN(unmodifiedSince.getTime()) && version.lastModified > unmodifiedSince)
    throw failed();
  reply
    .header("content-type", version.contentType)
    .header("etag", version.etag)
    .header("last-modified", version.lastModified.toUTCString())
    .header("x-amz-version-id", version.versionId)
    .header("accept-ranges", "bytes");
  for (const [name, value] of Object.entries(version.metadata)) reply.header(`x-amz-meta-${name}`, value);
  const total = version.contentLength;
  if (request.method === "HEAD") return reply.header("content-length", total).status(200).send();
  const range = typeof h.range === "string" ? h.range : undefined;
  if (range) {
    const parsed = parseRange(range, total);
    if (!parsed) {
      reply.header("content-range", `bytes */${total}`);
      throw new fauxqs.S3Error("InvalidRange", "The requested range is not satisfiable", 416);
    }
    return reply
      .header("content-length", parsed.end - parsed.start + 1)
      .header("content-range", `bytes ${parsed.start}-${parsed.end}/${total}`)
      .status(206)
      .send(readSegments(version.segments ?? [], parsed.start, parsed.end));
  }
  reply.header("content-length", total).status(200);
  return total === 0 ? reply.send("") : reply.send(readSegments(version.segments ?? [], 0, total - 1));
}

/** A single range as S3 takes it: `bytes=N-M`, `bytes=N-`, `bytes=-N` (the end clamped to the object). */
function parseRange(header: string, total: number): { start: number; end: number } | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header);
  if (!match) return undefined;
  const [, from = "", to = ""] = match;
  if (from === "" && to !== "") {
    const suffix = Number.parseInt(to, 10);
    if (suffix === 0 || total === 0) return undefined;
    return { start: Math.max(0, total - suffix), end: total - 1 };
  }
  if (from === "") return undefined;
  const start = Number.parseInt(from, 10);
  const end = to === "" ? total - 1 : Math.min(Number.parseInt(to, 10), total - 1);
  if (start >= total || start > end) return undefined;
  return { start, end };
}

function requestBody(request: FastifyRequest): Buffer {
  const raw = request.body;
  const body = Buffer.isBuffer(raw) ? raw : Buffer.from(typeof raw === "string" ? raw : "");
  const encoding = String(request.headers["content-encoding"] ?? "");
  return encoding.includes("aws-chunked") ? decodeAwsChunked(body) : body;
}

/** aws-chunked: `<hex size>[;chunk-signature=...]\r\n<data>\r\n` ... `0\r\n<trailers>\r\n\r\n`. */
function decodeAwsChunked(body: Buffer): Buffer {
  const chunks: Buffer[] = [];
  let offset = 0;
  while (offset < body.length) {
    const lineEnd = body.indexOf("\r\n", offset);
    if (lineEnd < 0) break;
    const size = Number.parseInt(body.subarray(offset, lineEnd).toString("ascii").split(";")[0] ?? "", 16);
    if (!(size > 0)) break;
    chunks.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(chunks);
}

function headerOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(",") : value;
}

function metadataOf(headers: FastifyRequest["headers"]): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.toLowerCase().startsWith("x-amz-meta-") || !value) continue;
    metadata[name.toLowerCase().slice("x-amz-meta-".length)] = Array.isArray(value)
      ? (value[0] ?? "")
      : value;
  }
  return metadata;
}

function partsOf(xml: string): { partNumber: number; etag: string }[] {
  const parts: { partNumber: number; etag: string }[] = [];
  for (const part of xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)) {
    const number = /<PartNumber>(\d+)<\/PartNumber>/.exec(part[1] ?? "")?.[1];
    const etag = /<ETag>([\s\S]*?)<\/ETag>/.exec(part[1] ?? "")?.[1];
    if (number && etag !== undefined)
      parts.push({ partNumber: Number.parseInt(number, 10), etag: unescapeXml(etag) });
  }
  return parts;
}

function unescapeXml(text: string): string {
  return text
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&quot;", '"')
    .replaceAll("&apos;", "'")
    .replaceAll("&amp;", "&");
}
