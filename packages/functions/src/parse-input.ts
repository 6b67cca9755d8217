import { InvalidOptionError } from "@sluice/core";
import { z } from "zod";

/** Parses a state's input; a mismatch is a wiring bug, reported as a permanent INVALID_OPTION. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new InvalidOptionError(`Invalid ${what} input: ${z.prettifyError(parsed.error).slice(0, 1000)}`);
  }
  return parsed.data;
}
