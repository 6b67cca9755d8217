import { createSluiceAdmin, SluiceAdminError, type SluiceAdminOptions } from "@sluice/admin";
import Fastify from "fastify";

/** HTTP statuses for the admin helpers' error codes. */
const HTTP_STATUS = {
  INVALID_OPTION: 400,
  UPLOAD_NOT_FOUND: 404,
  UPLOAD_NOT_REDRIVABLE: 409,
  UPLOAD_TOO_LARGE: 413,
  UPLOAD_TYPE_NOT_ALLOWED: 415,
} as const;

/** The four routes in a Fastify app (put your own authentication in front of them). */
export function fastifyAdminApp(options: SluiceAdminOptions) {
  const sluice = createSluiceAdmin(options);
  const app = Fastify();
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof SluiceAdminError)
      return reply.status(HTTP_STATUS[error.code]).send({ error: error.message, code: error.code });
    return reply.status(500).send({ error: "internal error" });
  });

  // The browser sends the file's name, size and type; it PUTs the file to S3 itself with the answer.
  app.post<{ Body: { fileName: string; size: number; contentType?: string } }>("/uploads", async (request) =>
    sluice.createUploadForm({ ...request.body, maxBytes: 50 * 1024 * 1024 }),
  );
  app.get<{ Params: { id: string } }>("/uploads/:id", async (request) =>
    sluice.uploadStatus(request.params.id),
  );
  app.get<{ Querystring: { status?: "FAILED" } }>("/uploads", async (request) =>
    sluice.listUploads({ since: new Date(Date.now() - 7 * 86_400_000), ...request.query }),
  );
  app.post<{ Params: { id: string } }>("/uploads/:id/redrive", async (request) =>
    sluice.redrive(request.params.id),
  );
  return app;
}
