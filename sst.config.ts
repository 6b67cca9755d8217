import type { SSTConfig } from "sst";
import { Pipeline } from "./stacks/pipeline-stack.ts";

export default {
  config() {
    return { name: "sluice", region: process.env.AWS_REGION ?? "us-east-1" };
  },
  stacks(app) {
    app.stack(Pipeline);
  },
} satisfies SSTConfig;
