import { consoleOrigin, executionConsoleUrl, partitionOfRegion } from "@sluice/contract";
import { describe, expect, it } from "vitest";

const ARN = "arn:aws:states:eu-west-1:123456789012:execution:sluice-prod-upload:orders-0123456789ab";

describe("executionConsoleUrl", () => {
  it("links the execution in the console of the ARN's region", () => {
    expect(executionConsoleUrl(ARN, "us-east-1")).toBe(
      `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${ARN}`,
    );
    expect(executionConsoleUrl("not-an-arn", "us-east-1")).toMatch(
      /^https:\/\/us-east-1\.console\.aws\.amazon\.com\/states\/home\?region=us-east-1#/,
    );
  });

  it("uses the China and GovCloud consoles for their partitions", () => {
    const cn = ARN.replace("arn:aws:", "arn:aws-cn:").replace("eu-west-1", "cn-northwest-1");
    expect(executionConsoleUrl(cn)).toBe(
      `https://console.amazonaws.cn/states/home?region=cn-northwest-1#/v2/executions/details/${cn}`,
    );
    const gov = ARN.replace("arn:aws:", "arn:aws-us-gov:").replace("eu-west-1", "us-gov-east-1");
    expect(executionConsoleUrl(gov)).toBe(
      `https://console.amazonaws-us-gov.com/states/home?region=us-gov-east-1#/v2/executions/details/${gov}`,
    );
    // Without an ARN, the Region's name says the partition.
    expect(executionConsoleUrl("not-an-arn", "cn-north-1")).toMatch(/^https:\/\/console\.amazonaws\.cn\//);
  });

  it("gives no link for a partition without a known console, or without a Region", () => {
    expect(
      executionConsoleUrl(ARN.replace("arn:aws:", "arn:aws-iso-b:").replace("eu-west-1", "us-isob-east-1")),
    ).toBeNull();
    expect(executionConsoleUrl("not-an-arn")).toBeNull();
    // Nothing that is not a Region's name reaches the host.
    expect(consoleOrigin("aws", "evil.example.com/x")).toBeNull();
  });

  it("names the partition of a Region", () => {
    expect(["eu-west-1", "cn-north-1", "us-gov-west-1"].map(partitionOfRegion)).toEqual([
      "aws",
      "aws-cn",
      "aws-us-gov",
    ]);
  });
});
