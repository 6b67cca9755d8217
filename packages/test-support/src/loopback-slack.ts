import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedPost {
  path: string;
  contentType: string | undefined;
  json: { text?: string; blocks?: Array<Record<string, unknown>> };
}

/** A stand-in for Slack's webhook endpoint on 127.0.0.1, receiving the real @slack/webhook POST. */
export class LoopbackSlack {
  readonly received: ReceivedPost[] = [];
  status = 200;
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

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
