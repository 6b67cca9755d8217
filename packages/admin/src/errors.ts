import { type ErrorCode, errorCodesOf } from "@sluice/contract";

/** The codes the admin helpers raise: the contract's "admin" area and INVALID_OPTION (a bad argument). */
export type SluiceAdminErrorCode = Extract<
  ErrorCode,
  ReturnType<typeof errorCodesOf<"admin" | "usage">>[number]
>;

/** Those codes, in the contract table's order (for an admin server's error-to-HTTP-status map). */
export const SLUICE_ADMIN_ERROR_CODES: readonly SluiceAdminErrorCode[] = Object.freeze(
  errorCodesOf("admin", "usage"),
);

/**
 * What the admin helpers throw for anything the caller can act on: a stable code from the contract's ERROR_CODES
 * table (so an admin server maps it to an HTTP status once) and a message a person can read; `cause` is the AWS
 * error behind it, when there was one. Any other error (network, throttling past the SDK's retries, permissions)
 * is the AWS SDK's own, thrown as it is.
 */
export class SluiceAdminError extends Error {
  override readonly name = "SluiceAdminError";
  readonly code: SluiceAdminErrorCode;

  constructor(code: SluiceAdminErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function invalidOption(message: string): SluiceAdminError {
  return new SluiceAdminError("INVALID_OPTION", message);
}
