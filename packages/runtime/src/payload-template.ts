import { StatesError } from "./task-tokens.ts";

/**
 * The JSONPath subset the local runtime evaluates itself: `$`, `$$`, then `.name`, `['name']` or `[n]` steps.
 * Anything else (filters, wildcards, slices) is reported when the workflow is built, not half-evaluated.
 */
const STEP = /\.([^.[\]]+)|\['([^']*)'\]|\[(\d+)\]/y;

function pathSteps(path: string): (string | number)[] | undefined {
  const rest = path.startsWith("$$") ? path.slice(2) : path.startsWith("$") ? path.slice(1) : undefined;
  if (rest === undefined) return undefined;
  const steps: (string | number)[] = [];
  STEP.lastIndex = 0;
  while (STEP.lastIndex < rest.length) {
    const at = STEP.lastIndex;
    const match = STEP.exec(rest);
    if (!match || match.index !== at) return undefined;
    steps.push(match[3] !== undefined ? Number(match[3]) : (match[1] ?? match[2] ?? ""));
  }
  return steps;
}

/** True for a reference path this evaluator reads (see STEP). */
export function isSupportedPath(path: unknown): path is string {
  return typeof path === "string" && pathSteps(path) !== undefined;
}

/** Reads a reference path (`$`, `$.a.b`, `$.a[0]`, `$$.Map.Item.Value`) from the input or the context object. */
export function readPath(path: string, input: unknown, context: unknown): unknown {
  const steps = pathSteps(path);
  if (!steps) throw new StatesError("States.Runtime", `Not a supported reference path: ${path}`);
  let value = path.startsWith("$$") ? context : input;
  for (const step of steps) {
    const found =
      typeof step === "number"
        ? Array.isArray(value) && step < value.length
        : value !== null && typeof value === "object" && !Array.isArray(value) && step in value;
    if (!found) {
      throw new StatesError(
        "States.Runtime",
        `The JSONPath '${path}' could not be found in the ${path.startsWith("$$") ? "context object" : "input"}`,
      );
    }
    value = (value as Record<string | number, unknown>)[step];
  }
  return value;
}

const JSON_TO_STRING = /^States\.JsonToString\((\$[^()]*)\)$/;

/**
 * True when every expression of a payload template (Parameters, ResultSelector, ItemSelector, ItemReader or
 * ResultWriter Parameters) is one this evaluator computes: a supported path or `States.JsonToString(<path>)`.
 */
export function canEvaluate(template: unknown): boolean {
  if (Array.isArray(template)) return template.every(canEvaluate);
  if (template === null || typeof template !== "object") return true;
  return Object.entries(template).every(([key, value]) => {
    if (!key.endsWith(".$")) return canEvaluate(value);
    if (typeof value !== "string") return false;
    const jsonToString = JSON_TO_STRING.exec(value);
    return isSupportedPath(jsonToString ? jsonToString[1] : value);
  });
}

/**
 * Evaluates a payload template: keys ending in `.$` take the value at their path, or `States.JsonToString(<path>)`.
 * Other intrinsic functions are reported instead of being half-supported (see canEvaluate).
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

/** InputPath / OutputPath: absent keeps the value, `null` gives `{}`, a path selects part of it. */
export function selectPath(path: unknown, value: unknown, context: unknown): unknown {
  if (path === undefined) return value;
  if (path === null) return {};
  return readPath(String(path), value, context);
}

/**
 * ResultPath: absent or `$` makes the result the output, `null` discards it (the output is the state's input),
 * a path puts the result into a copy of the input there, creating the objects on the way.
 */
export function applyResultPath(path: unknown, rawInput: unknown, result: unknown): unknown {
  if (path === undefined || path === "$") return result;
  if (path === null) return rawInput;
  const steps = typeof path === "string" && !path.startsWith("$$") ? pathSteps(path) : undefined;
  if (!steps || steps.some((s) => typeof s === "number")) {
    throw new StatesError("States.Runtime", `Unsupported ResultPath: ${JSON.stringify(path)}`);
  }
  const mismatch = () =>
    new StatesError(
      "States.ResultPathMatchFailure",
      `Unable to apply ResultPath ${path} to the state's input: it is not an object there`,
    );
  if (rawInput === null || typeof rawInput !== "object" || Array.isArray(rawInput)) throw mismatch();
  const output = structuredClone(rawInput) as Record<string, unknown>;
  let target = output;
  for (const [i, step] of (steps as string[]).entries()) {
    if (i === steps.length - 1) {
      target[step] = result;
      break;
    }
    const next = target[step];
    if (next === undefined) target[step] = {};
    else if (next === null || typeof next !== "object" || Array.isArray(next)) throw mismatch();
    target = target[step] as Record<string, unknown>;
  }
  return output;
}
