export { type AdminServer, startAdminServer } from "./app.ts";
export { type AdminServerConfig, ConfigError, loadConfig } from "./config.ts";
export { createPool, migrate } from "./db.ts";
export { createHttpServer } from "./http-server.ts";
export { createImportChunkHandler, ImportError, importChunk } from "./import-chunk.ts";
export { ORDER_HEADERS, validateOrderRow } from "./order-row.ts";
