/**
 * Where an upload's time went, from its execution history: the upload itself (from the benchmark's start to the
 * execution's start) and each top-level state from entered to exited, in the order they ran. A Distributed Map's
 * items run as child executions, so the parent's history holds only the top-level states.
 */
import type { HistoryEvent } from "@aws-sdk/client-sfn";

export interface Phase {
  /** "upload", a state's name, or "other" (the time between states and after the last). */
  name: string;
  seconds: number;
}

const ms = (event: HistoryEvent) => event.timestamp?.getTime() ?? Number.NaN;

/**
 * `startedAt`: when the benchmark began the upload (epoch ms); `endedAt`: when it saw the execution end. A state
 * entered more than once (a retry loop through it) sums its visits.
 */
export function executionPhases(events: HistoryEvent[], startedAt: number, endedAt: number): Phase[] {
  const started = events.find((e) => e.type === "ExecutionStarted");
  if (!started) throw new Error("the history has no ExecutionStarted event");
  const phases: Phase[] = [{ name: "upload", seconds: (ms(started) - startedAt) / 1000 }];
  const entered = new Map<string, number>();
  let inStates = 0;
  for (const event of events) {
    const name = event.stateEnteredEventDetails?.name;
    if (name !== undefined && event.type?.endsWith("StateEntered")) {
      entered.set(name, ms(event));
      continue;
    }
    const exited = event.stateExitedEventDetails?.name;
    const since = exited === undefined ? undefined : entered.get(exited);
    if (exited === undefined || since === undefined || !event.type?.endsWith("StateExited")) continue;
    entered.delete(exited);
    const seconds = (ms(event) - since) / 1000;
    inStates += seconds;
    const phase = phases.find((p) => p.name === exited);
    if (phase) phase.seconds += seconds;
    else phases.push({ name: exited, seconds });
  }
  const total = (endedAt - startedAt) / 1000;
  phases.push({ name: "other", seconds: Math.max(0, total - phases[0]!.seconds - inStates) });
  return phases;
}

/** The phases worth printing: those of at least 10 ms, and "other". */
const shown = (phases: Phase[]): Phase[] => phases.filter((p) => p.seconds >= 0.01 || p.name === "other");

/** "upload 0.85 s · Convert workbook 4.38 s · …": the phases `shown` picks. */
export function phasesText(phases: Phase[]): string {
  return shown(phases)
    .map((p) => `${p.name} ${p.seconds.toFixed(2)} s`)
    .join(" · ");
}

/**
 * The phases in units of the conversion alone (`aloneSeconds`, `sluice convert` of the same workbook): "upload 0.25 ·
 * Convert workbook 1.31 · Deliver chunks 1.44 · Summarize 0.01 · other 0.00 = 3.01". The states run one after
 * another (the Map reads the items Convert wrote once it has written them all), so it is their sum that the
 * end-to-end target weighs: at 0.5× it allows 2 conversions. Each phase's share says which of them takes the budget.
 */
export function phasesInConversions(phases: Phase[], aloneSeconds: number): string {
  if (!(aloneSeconds > 0))
    throw new RangeError(`the conversion alone must take some time, not ${aloneSeconds} s`);
  const total = phases.reduce((sum, p) => sum + p.seconds, 0) / aloneSeconds;
  return `${shown(phases)
    .map((p) => `${p.name} ${(p.seconds / aloneSeconds).toFixed(2)}`)
    .join(" · ")} = ${total.toFixed(2)}`;
}
