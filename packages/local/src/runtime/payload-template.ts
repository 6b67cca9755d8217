import { StatesError } from "./task-tokens.ts";

/** Reads a reference path (`$`, `$.a.b`, `$$.Map.Item.Value`) from the input or the context object. */
export function readPath(path: string, input: unknown, context: unknown): unknown {
  const [root, rest] = path.startsWith("$$") ? [context, path.slice(2)] : [input, path.slice(1)];
  if (!path.startsWith("$")) throw new StatesError("States.Runtime", `Not a reference path: ${path}`);
  let value = root;
  for (const segment of rest.split(".").filter(Boolean)) {
    if (value === null || typeof value !== "object" || !(segment in value)) {
      throw new StatesError("States.Runtime", `The JSONPath ${path} could not be found in the input`);
    }
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

const JSON_TO_STRING = /^States\.JsonToString\((\$[^()]*)\)$/;

/** True for a template value this evaluator computes that aws-local-stepfunctions gets wrong. */
export function usesJsonToString(template: unknown): boolean {
  if (template === null || typeof template !== "object") return false;
  return Object.entries(template).some(
    ([key, value]) =>
      (key.endsWith(".$") && typeof value === "string" && JSON_TO_STRING.test(value)) ||
      usesJsonToString(value),
  );
}

/**
 * Evaluates a payload template (Parameters, ItemSelector, ItemReader/ResultWriter Parameters): keys ending in
 * `.$` take the value at their path, or `States.JsonToString(<path>)`. Other intrinsic functions are reported
 * instead of being half-supported.
 */
export function evaluatePayload(template: unknown, input: unknown, context: unknown): unknown {
  if (Array.isArray(template)) return template.map((t) => evaluatePayload(t, input, context));
  if (template === null || typeof template !== "object") return template;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith(".$")) {
      const jsonToString = typeof value === "string" ? JSON_TO_STRING.exec(value) : null;
      if (jsonToString) {
        out[key.slice(0, -2)] = JSON.stringify(readPath(jsonToString[1]!, input, context));
        continue;
      }
      if (typeof value !== "string" || !value.startsWith("$")) {
        throw new StatesError(
          "States.Runtime",
          `Unsupported expression for ${key}: ${JSON.stringify(value)}`,
        );
      }
      out[key.slice(0, -2)] = readPath(value, input, context);
    } else {
      out[key] = evaluatePayload(value, input, context);
    }
  }
  return out;
}
