#!/usr/bin/env node
// Runs the TypeScript CLI in this same process (no build step, and one pid to measure in benchmarks).
import { register } from "tsx/esm/api";

register();
await import("../src/cli.ts");
