import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedPost {
  path: string;
  contentType: string | undefined;
  json: { text?: string; blocks?: Array<Record<string, unknown>> };
}

/**
 * How the webhook answers: `respond` with `status` (Slack's own "invalid_blocks" body when not 200), or `hang`:
 * the POST is read and never answered (the connection stays open until the client gives up or the server stops).
 */
export type SlackBehaviour = "respond" | "hang";

/** A stand-in for Slack's webhook endpoint on 127.0.0.1, receiving the real @slack/webhook POST. */
export class LoopbackSlack {
  readonly received: ReceivedPost[] = [];
  status = 200;
  behaviour: SlackBehaviour = "respond";
  private constructor(private readonly server: Server) {}

  static async start(): Promise<LoopbackSlack> {
    const server = createServer();
    const slack = new LoopbackSlack(server);
    server.on("request", (request, response) => {
      const parts: Buffer[] = [];
      request.on("data", (part: Buffer) => parts.push(part));
      request.on("end", () => {
        slack.received.push({
          path: request.url ?? "",
          contentType: request.headers["content-type"],
          json: JSON.parse(Buffer.concat(parts).toString("utf8") || "{}"),
        });
        if (slack.behaviour === "hang") return;
        response.writeHead(slack.status, { "content-type": "text/plain" });
        response.end(slack.status === 200 ? "ok" : "invalid_blocks");
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return slack;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/services/T000/B000/XXXX`;
  }

  /** A webhook URL on 127.0.0.1 where nothing listens: the POST's connection is refused (Slack unreachable). */
  static async unreachableUrl(): Promise<string> {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return `http://127.0.0.1:${port}/services/T000/B000/XXXX`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
