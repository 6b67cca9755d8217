/**
 * parseCause reads a Step Functions Cause for the failure record and the alerts; it lives in the contract, where
 * @sluice/admin reads an execution's cause the same way before the record is written.
 */
export { CAUSE_LIMIT, type ParsedCause, parseCause } from "@sluice/contract";
