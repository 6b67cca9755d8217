import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));

describe("npm run synth", () => {
  it("prints the whole CloudFormation template as JSON on stdout, offline", () => {
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", "scripts/print-template.ts", "--stage", "ci"],
      {
        cwd: root,
        encoding: "utf8",
        // No credentials anywhere: synthesis must not need an account.
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: "",
          AWS_SECRET_ACCESS_KEY: "",
          AWS_PROFILE: "",
          SLUICE_ALLOWED_ORIGINS: "",
        },
        timeout: 120_000,
        maxBuffer: 32 * 1024 * 1024,
      },
    );
    expect(run.status, run.stderr.slice(-2000)).toBe(0);
    const template = JSON.parse(run.stdout) as {
      Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
    };
    const types = Object.values(template.Resources).map((r) => r.Type);
    for (const type of [
      "AWS::StepFunctions::StateMachine",
      "AWS::Events::Rule",
      "AWS::Lambda::EventSourceMapping",
      "AWS::IAM::ManagedPolicy",
    ]) {
      expect(types).toContain(type);
    }
    // A stage without SLUICE_ALLOWED_ORIGINS has no CORS rule at all (SST's own default would allow every origin).
    const buckets = Object.values(template.Resources).filter((r) => r.Type === "AWS::S3::Bucket");
    expect(buckets.length).toBeGreaterThan(0);
    for (const bucket of buckets) expect(bucket.Properties ?? {}).not.toHaveProperty("CorsConfiguration");
  }, 150_000);
});
