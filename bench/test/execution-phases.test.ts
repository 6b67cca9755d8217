import type { HistoryEvent } from "@aws-sdk/client-sfn";
import { describe, expect, it } from "vitest";
import { executionPhases, phasesInConversions, phasesText } from "../execution-phases.ts";

const T0 = Date.parse("2026-12-01T20:00:00.000Z");
const at = (ms: number) => new Date(T0 + ms);
const entered = (type: string, name: string, ms: number): HistoryEvent =>
  ({ type, timestamp: at(ms), stateEnteredEventDetails: { name } }) as HistoryEvent;
const exited = (type: string, name: string, ms: number): HistoryEvent =>
  ({ type, timestamp: at(ms), stateExitedEventDetails: { name } }) as HistoryEvent;

describe("executionPhases", () => {
  it("gives the upload, each top-level state entered to exited, and the rest", () => {
    const events: HistoryEvent[] = [
      { type: "ExecutionStarted", timestamp: at(850) } as HistoryEvent,
      entered("TaskStateEntered", "Convert workbook", 851),
      { type: "TaskScheduled", timestamp: at(851) } as HistoryEvent,
      exited("TaskStateExited", "Convert workbook", 5_231),
      entered("ChoiceStateEntered", "Any chunks?", 5_231),
      exited("ChoiceStateExited", "Any chunks?", 5_232),
      entered("MapStateEntered", "Deliver chunks", 5_232),
      { type: "MapRunStarted", timestamp: at(5_233) } as HistoryEvent,
      exited("MapStateExited", "Deliver chunks", 8_912),
      entered("TaskStateEntered", "Summarize", 8_912),
      exited("TaskStateExited", "Summarize", 8_952),
      { type: "ExecutionSucceeded", timestamp: at(8_953) } as HistoryEvent,
    ];
    const phases = executionPhases(events, T0, T0 + 8_960);
    expect(phases.map((p) => p.name)).toEqual([
      "upload",
      "Convert workbook",
      "Any chunks?",
      "Deliver chunks",
      "Summarize",
      "other",
    ]);
    const seconds = Object.fromEntries(phases.map((p) => [p.name, p.seconds]));
    expect(seconds.upload).toBeCloseTo(0.85);
    expect(seconds["Convert workbook"]).toBeCloseTo(4.38);
    expect(seconds["Deliver chunks"]).toBeCloseTo(3.68);
    expect(seconds.Summarize).toBeCloseTo(0.04);
    // 8.96 s in all: what no phase holds (between states, after the last) is "other".
    expect(seconds.other).toBeCloseTo(8.96 - 0.85 - 4.38 - 0.001 - 3.68 - 0.04);
    expect(phasesText(phases)).toBe(
      "upload 0.85 s · Convert workbook 4.38 s · Deliver chunks 3.68 s · Summarize 0.04 s · other 0.01 s",
    );
  });

  it("sums the visits of a state entered more than once", () => {
    const events: HistoryEvent[] = [
      { type: "ExecutionStarted", timestamp: at(100) } as HistoryEvent,
      entered("TaskStateEntered", "Convert workbook", 100),
      exited("TaskStateExited", "Convert workbook", 600),
      entered("WaitStateEntered", "Back off", 600),
      exited("WaitStateExited", "Back off", 1_600),
      entered("TaskStateEntered", "Convert workbook", 1_600),
      exited("TaskStateExited", "Convert workbook", 2_100),
    ];
    const phases = executionPhases(events, T0, T0 + 2_100);
    expect(phases.find((p) => p.name === "Convert workbook")?.seconds).toBeCloseTo(1);
    expect(phases.find((p) => p.name === "Back off")?.seconds).toBeCloseTo(1);
    expect(phases.at(-1)).toEqual({ name: "other", seconds: 0 });
  });

  it("refuses a history without its start", () => {
    expect(() => executionPhases([], T0, T0 + 1)).toThrow(/ExecutionStarted/);
  });
});

describe("phasesInConversions", () => {
  const phases = [
    { name: "upload", seconds: 0.84 },
    { name: "Convert workbook", seconds: 4.49 },
    { name: "Any chunks?", seconds: 0.001 },
    { name: "Deliver chunks", seconds: 4.91 },
    { name: "Summarize", seconds: 0.02 },
    { name: "other", seconds: 0 },
  ];

  it("gives each phase in conversions alone, and their sum: the inverse of the end-to-end ratio", () => {
    expect(phasesInConversions(phases, 3.42)).toBe(
      "upload 0.25 · Convert workbook 1.31 · Deliver chunks 1.44 · Summarize 0.01 · other 0.00 = 3.00",
    );
    // The sum counts the phases too short to show: the whole upload, 10.261 s, over 3.42 s.
    const ratio = 3.42 / phases.reduce((sum, p) => sum + p.seconds, 0);
    expect(Number(phasesInConversions(phases, 3.42).split(" = ")[1])).toBeCloseTo(1 / ratio, 2);
  });

  it("refuses a conversion that took no time", () => {
    expect(() => phasesInConversions(phases, 0)).toThrow(RangeError);
    expect(() => phasesInConversions(phases, Number.NaN)).toThrow(RangeError);
  });
});
