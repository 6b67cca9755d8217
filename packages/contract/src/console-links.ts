/**
 * Links into the AWS Management Console, for the people who follow a link from an alert or a status page. The
 * console has another host in each partition ("AWS Management Console endpoints and quotas",
 * https://docs.aws.amazon.com/general/latest/gr/mgmt-console.html: `https://<region>.console.aws.amazon.com`;
 * China: https://console.amazonaws.cn/; AWS GovCloud (US): https://console.amazonaws-us-gov.com/). A partition
 * without a console known here (the isolated ones) gets no link rather than a wrong one.
 */

const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;

/** The partition a Region is in, from its name (cn-north-1 is aws-cn, us-gov-west-1 aws-us-gov). */
export function partitionOfRegion(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  return "aws";
}

/** `https://<region>.console.aws.amazon.com` and its counterparts; null for another partition or no Region. */
export function consoleOrigin(partition: string, region: string): string | null {
  if (!REGION.test(region)) return null;
  switch (partition) {
    case "aws":
      return `https://${region}.console.aws.amazon.com`;
    case "aws-cn":
      return "https://console.amazonaws.cn";
    case "aws-us-gov":
      return "https://console.amazonaws-us-gov.com";
    default:
      return null;
  }
}

/**
 * The execution's page in the Step Functions console, in the partition and Region its ARN names
 * (`arn:<partition>:states:<region>:<account>:execution:<stateMachine>:<name>`); `region` is used when the ARN
 * names none. Null when neither gives a Region, or the partition has no console known here.
 */
export function executionConsoleUrl(executionArn: string, region?: string): string | null {
  const [arn, partition, , arnRegion] = executionArn.split(":");
  const where = arn === "arn" && partition && arnRegion ? { partition, region: arnRegion } : undefined;
  const r = where?.region ?? region;
  if (!r) return null;
  const origin = consoleOrigin(where?.partition ?? partitionOfRegion(r), r);
  return origin && `${origin}/states/home?region=${r}#/v2/executions/details/${executionArn}`;
}
