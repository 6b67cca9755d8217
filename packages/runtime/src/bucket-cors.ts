import { UPLOAD_CORS_RULE } from "@sluice/workflow";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { s3ErrorXml } from "./s3-error-xml.ts";

/**
 * The bucket's CORS configuration, answered as S3 answers it, so a page served by the admin server can PUT an
 * upload form's file to the local bucket from a real browser. The one rule is the stack's (UPLOAD_CORS_RULE) for
 * the origins given; with none, the bucket has no CORS configuration.
 *
 * - A preflight (OPTIONS with Origin and Access-Control-Request-Method) is evaluated against the rule: the origin
 *   must be one of the allowed origins, the method an allowed method, and every header named in
 *   Access-Control-Request-Headers must match an AllowedHeaders entry (case-insensitive, `*` a wildcard). A match
 *   answers 200 with Access-Control-Allow-Origin (the origin), -Allow-Methods, -Allow-Headers (the headers
 *   requested), -Expose-Headers and -Max-Age; anything else is 403 with no Access-Control-* header ("Appendix:
 *   OPTIONS object", https://docs.aws.amazon.com/AmazonS3/latest/API/RESTOPTIONSobject.html: "If cors is not
 *   enabled on the bucket, then Amazon S3 returns a 403 Forbidden response").
 * - Any other request with an Origin that the rule allows for its method gets the same Access-Control-* headers on
 *   its response (errors included), so the page can read the ETag, the version id and S3's error.
 */
export interface BucketCors {
  bucket: string;
  /** Exact origins (`https://admin.example.com`); empty: no CORS configuration. */
  origins: readonly string[];
}

interface Rule {
  origins: readonly string[];
  methods: readonly string[];
  headers: readonly RegExp[];
  exposeHeaders: readonly string[];
  maxAgeSeconds: number;
}

/** An AllowedHeaders entry as a case-insensitive pattern; `*` matches anything. */
function headerPattern(entry: string): RegExp {
  const escaped = entry
    .toLowerCase()
    .split("*")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${escaped}$`);
}

function ruleFor(origins: readonly string[]): Rule | undefined {
  if (origins.length === 0) return undefined;
  return {
    origins,
    methods: UPLOAD_CORS_RULE.allowedMethods,
    headers: UPLOAD_CORS_RULE.allowedHeaders.map(headerPattern),
    exposeHeaders: UPLOAD_CORS_RULE.exposedHeaders,
    maxAgeSeconds: UPLOAD_CORS_RULE.maxAgeSeconds,
  };
}

const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/** The headers a preflight asks for, lower-cased, in the order asked. */
function requestedHeaders(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
}

function forbidden(reply: FastifyReply, message: string, method: string | undefined) {
  const xml = s3ErrorXml("AccessForbidden", message, {
    ...(method ? { Method: method.replace(/[^A-Z]/g, "") } : {}),
    ResourceType: "OBJECT",
  });
  return reply.header("content-type", "application/xml").status(403).send(xml);
}

/** The bucket a request addresses (path-style, as the emulator's clients use it). */
function bucketOf(request: FastifyRequest): string | undefined {
  return (request.params as { bucket?: string } | undefined)?.bucket;
}

function allowHeaders(reply: FastifyReply, rule: Rule, origin: string): void {
  reply
    .header("access-control-allow-origin", origin)
    .header("access-control-allow-methods", rule.methods.join(", "))
    .header("access-control-expose-headers", rule.exposeHeaders.join(", "))
    .header("access-control-max-age", String(rule.maxAgeSeconds))
    .header("access-control-allow-credentials", "true")
    .header("vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method");
}

export function useBucketCors(app: FastifyInstance, cors: BucketCors): void {
  const rule = ruleFor(cors.origins);
  const preflight = async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = single(request.headers.origin);
    const method = single(request.headers["access-control-request-method"]);
    if (!origin || !method) {
      return reply
        .header("content-type", "application/xml")
        .status(400)
        .send(s3ErrorXml("BadRequest", "Insufficient information. Origin request header needed."));
    }
    if (!rule || bucketOf(request) !== cors.bucket)
      return forbidden(reply, "CORSResponse: CORS is not enabled for this bucket.", method);
    const headers = requestedHeaders(single(request.headers["access-control-request-headers"]));
    const allowed =
      rule.origins.includes(origin) &&
      rule.methods.includes(method) &&
      headers.every((name) => rule.headers.some((pattern) => pattern.test(name)));
    if (!allowed) {
      return forbidden(
        reply,
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        method,
      );
    }
    allowHeaders(reply, rule, origin);
    if (headers.length > 0) reply.header("access-control-allow-headers", headers.join(", "));
    return reply.status(200).send();
  };
  app.route({ method: "OPTIONS", url: "/:bucket", handler: preflight });
  app.route({ method: "OPTIONS", url: "/:bucket/*", handler: preflight });

  // The actual request: the rule's headers when its origin and method are allowed, whatever the answer.
  app.addHook("onSend", async (request, reply, payload) => {
    const origin = single(request.headers.origin);
    if (!rule || !origin || request.method === "OPTIONS" || bucketOf(request) !== cors.bucket) return payload;
    if (rule.origins.includes(origin) && rule.methods.includes(request.method)) {
      allowHeaders(reply, rule, origin);
    }
    return payload;
  });
}
