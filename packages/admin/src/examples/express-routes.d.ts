import type { Server } from "node:http";
import type { SluiceAdminOptions } from "@sluice/admin";

/** The types of express-routes.js (Express 4 ships none; `npm i -D @types/express` gives the full ones). */
export declare function expressAdminApp(options: SluiceAdminOptions): {
  listen(port: number, host: string): Server;
};
