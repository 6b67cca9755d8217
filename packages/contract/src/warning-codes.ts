/**
 * Every file-level warning code sluice records, in one table: what it means. A warning never fails an upload:
 * the upload goes on, and the manifest, summary.json and the Slack alerts say what was noticed (`{ code,
 * message }`, FileWarningSchema in messages.ts). Row- and cell-level warnings (CELL_ERROR...) are in the
 * error-code table with area `row`. Readers should show a code they do not know as it is: newer converters may
 * add codes within a contract version.
 */
export const WARNING_CODES = {
  FORMAT_EXTENSION_MISMATCH: {
    area: "workbook",
    meaning:
      "the file's name ends in an extension of another format than its content; it was read by its content",
  },
} as const satisfies Record<string, { area: "workbook"; meaning: string }>;

export type WarningCode = keyof typeof WARNING_CODES;

export function isWarningCode(code: string): code is WarningCode {
  return Object.hasOwn(WARNING_CODES, code);
}
