import { createSluiceAdmin, SluiceAdminError } from "@sluice/admin";
import express from "express";

/** HTTP statuses for the admin helpers' error codes. */
const HTTP_STATUS = {
  INVALID_OPTION: 400,
  UPLOAD_NOT_FOUND: 404,
  UPLOAD_NOT_REDRIVABLE: 409,
  UPLOAD_TOO_LARGE: 413,
  UPLOAD_TYPE_NOT_ALLOWED: 415,
};

/** The four routes in an Express 4 app (put your own authentication in front of them). */
export function expressAdminApp(options) {
  const sluice = createSluiceAdmin(options);
  const app = express();
  app.use(express.json());
  // Express 4 does not catch a rejected promise: each route hands its error to next().
  const route = (handler) => (req, res, next) => handler(req).then((body) => res.json(body), next);

  // The browser sends the file's name, size and type; it PUTs the file to S3 itself with the answer.
  app.post(
    "/uploads",
    route((req) => sluice.createUploadForm({ ...req.body, maxBytes: 50 * 1024 * 1024 })),
  );
  app.get(
    "/uploads/:id",
    route((req) => sluice.uploadStatus(req.params.id)),
  );
  app.get(
    "/uploads",
    route((req) => sluice.listUploads({ since: new Date(Date.now() - 7 * 86_400_000), ...req.query })),
  );
  app.post(
    "/uploads/:id/redrive",
    route((req) => sluice.redrive(req.params.id)),
  );
  app.use((error, _req, res, _next) => {
    if (error instanceof SluiceAdminError)
      return res.status(HTTP_STATUS[error.code]).json({ error: error.message, code: error.code });
    res.status(500).json({ error: "internal error" });
  });
  return app;
}
