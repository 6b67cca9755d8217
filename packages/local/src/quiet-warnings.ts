// The AWS SDK warns on every Node 20 process that its releases after January 2027 need Node 22. sluice runs on
// both (Lambda deploys on nodejs22.x); the CLI keeps that one notice out of its output and lets others through.
const original = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === "string" ? warning : `${warning.name}: ${warning.message}`;
  const options = rest[0] as { type?: string } | string | undefined;
  const type = typeof options === "string" ? options : options?.type;
  if (type === "NodeVersionSupportWarning" || text.startsWith("NodeVersionSupportWarning")) return;
  (original as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;
