/**
 * Every CLI child process in the tests runs with `--unhandled-rejections=strict`: a promise rejection nobody
 * handles, or a stream 'error' nobody listens to, ends the process at once with a stack trace, whatever handlers
 * a library installed, so a test that expects a clean exit or a process that keeps serving fails on it.
 */
export const STRICT_NODE_OPTIONS = "--unhandled-rejections=strict";

/** `env` (default: this process's environment) with the strict flag added to NODE_OPTIONS. */
export function strictEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const current = env.NODE_OPTIONS ?? "";
  return current.includes(STRICT_NODE_OPTIONS)
    ? { ...env }
    : { ...env, NODE_OPTIONS: `${current} ${STRICT_NODE_OPTIONS}`.trim() };
}
