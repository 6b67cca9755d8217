import { setFlagsFromString } from "node:v8";
import "./quiet-warnings.ts";
import { isSluiceError } from "@sluice/core";
import { CONVERT_USAGE, runConvert } from "./commands/convert-command.ts";
import { ConvertProgressLine } from "./convert-progress-line.ts";

const USAGE = `usage: sluice <command> [options]

commands:
  demo [file]             run a whole upload on this machine (local S3/SQS, the workflow's own state machine)
  convert <file>          convert an xlsx or csv workbook into chunks.jsonl and manifest.json
  serve                   run the local runtime until Ctrl-C; prints the endpoints an admin server needs
  upload <file>           upload a workbook to a running "sluice serve" (each upload a new version, as on AWS)
  status <upload-id>      totals, chunks done / in flight / failed, rate and ETA (AWS or --endpoint); when it
                          failed, the failed chunk and error from processed/<upload-id>/failure.json
  redrive <upload-id>     run exactly what failed again, no re-upload (RedriveExecution: only the chunks that
                          did not succeed)
  reprocess <upload-id>   with --force: a new execution <upload-id>-r2 for the same source object

${CONVERT_USAGE}

Run "sluice <command> --help" for a command's options.`;

/** Commands that print human lines, then their result as a JSON last line; loaded on demand. */
const JSON_COMMANDS: Record<
  string,
  () => Promise<{ usage: string; run: (argv: string[], say: (line: string) => void) => Promise<unknown> }>
> = {
  status: async () => {
    const m = await import("./commands/status-command.ts");
    return { usage: m.STATUS_USAGE, run: m.runStatus };
  },
  redrive: async () => {
    const m = await import("./commands/redrive-command.ts");
    return { usage: m.REDRIVE_USAGE, run: (argv, say) => m.runRedrive(argv, say) };
  },
  reprocess: async () => {
    const m = await import("./commands/reprocess-command.ts");
    return { usage: m.REPROCESS_USAGE, run: m.runReprocess };
  },
  upload: async () => {
    const m = await import("./commands/upload-command.ts");
    return { usage: m.UPLOAD_USAGE, run: (argv, say) => m.runUpload(argv, say) };
  },
  serve: async () => {
    // serve keeps the whole local runtime (emulator, bucket, workflow, the Lambdas) in this one process. V8's
    // default lets the heap grow up to 4x what survived the last full GC before collecting again, which on a
    // 1M-row upload took this process past 300 MB; 1.5x keeps it near 235 MB for about 5% more CPU
    // (npm run bench's serve table).
    setFlagsFromString("--heap-growing-percent=50");
    const m = await import("./commands/serve-command.ts");
    return { usage: m.SERVE_USAGE, run: (argv, say) => m.runServe(argv, say) };
  },
};

/**
 * Output that cannot be written must not end the command: when whoever reads stdout or stderr goes away
 * (`sluice serve | head -1`, a closed terminal) the next write fails with EPIPE, and without a listener that
 * 'error' event kills the process; for `serve`, with every upload, queue and bucket it holds. The lines are
 * dropped instead; any other output error still makes the exit code 1.
 */
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") process.exitCode = 1;
  });
}

/** `sluice <command> --help` (or `-h`) anywhere among the command's arguments. */
function wantsHelp(args: string[]): boolean {
  return args.includes("--help") || args.includes("-h");
}

/** Exit codes: 0 done, 1 a failure worth retrying (I/O), 2 bad input or usage. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "convert": {
      if (wantsHelp(rest)) {
        process.stdout.write(`${CONVERT_USAGE}\n`);
        return 0;
      }
      const line = process.stderr.isTTY ? new ConvertProgressLine(process.stderr) : undefined;
      try {
        const summary = await runConvert(rest, line ? (p) => line.update(p) : undefined);
        line?.done();
        for (const warning of summary.fileWarnings)
          process.stderr.write(`warning ${warning.code}: ${warning.message}\n`);
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return 0;
      } finally {
        line?.clear();
      }
    }
    case "demo": {
      // Loaded on demand: the local runtime brings the AWS SDK and the CDK, which `convert` has no use for.
      const { DEMO_USAGE, runDemo } = await import("./commands/demo-command.ts");
      if (wantsHelp(rest)) {
        process.stdout.write(`${DEMO_USAGE}\n`);
        return 0;
      }
      const summary = await runDemo(rest, (line) => process.stdout.write(`${line}\n`));
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      return 0;
    }
    case "status":
    case "redrive":
    case "reprocess":
    case "upload":
    case "serve": {
      const { usage, run } = await JSON_COMMANDS[command]!();
      if (wantsHelp(rest)) {
        process.stdout.write(`${usage}\n`);
        return 0;
      }
      const result = await run(rest, (line) => process.stdout.write(`${line}\n`));
      if (command !== "serve") process.stdout.write(`${JSON.stringify(result)}\n`);
      return 0;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`error INVALID_OPTION: unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (isSluiceError(error)) {
    process.stderr.write(`error ${error.code}: ${error.message}\n`);
    process.exitCode = error.retryable ? 1 : 2;
  } else {
    process.stderr.write(`error INTERNAL: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 1;
  }
}
