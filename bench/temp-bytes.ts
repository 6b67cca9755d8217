/**
 * How much a benchmark's child process keeps on disk under its TMPDIR. A directory walk alone misses what sluice
 * spills: its shared-strings table goes to a temp file unlinked as soon as it is opened (nothing is left behind if
 * the process dies), which only the process's open descriptors still show.
 */
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
} from "node:fs";
import path from "node:path";

/** Regular files under `dir`, recursively, by inode (`dev:ino`) to their size. */
function dirFiles(dir: string, into: Map<string, number>): void {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    try {
      if (e.isDirectory()) dirFiles(p, into);
      else if (e.isFile()) {
        const st = lstatSync(p, { bigint: true });
        into.set(`${st.dev}:${st.ino}`, Number(st.size));
      }
    } catch {
      // a temp file removed between readdir and stat
    }
  }
}

// Without /proc (not Linux) only the directory walk is possible; checked once, not on every poll.
const HAS_PROC_FD = existsSync("/proc/self/fd");

/** `pid` and its descendants, through each thread's /proc children list (threads fork too). */
function processTree(pid: number): number[] {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pids[i]}/task`);
    } catch {
      continue; // exited
    }
    for (const tid of tasks) {
      try {
        for (const c of readFileSync(`/proc/${pids[i]}/task/${tid}/children`, "utf8").split(" ")) {
          const child = Number(c);
          if (child > 0 && !pids.includes(child)) pids.push(child);
        }
      } catch {
        // the thread ended between readdir and read, or a kernel without the children file
      }
    }
  }
  return pids;
}

/**
 * Bytes on disk under `dir`: its files plus the files the process `pid` and its descendants hold open there,
 * unlinked ones included (sluice's shared-strings spill is unlinked as soon as it is opened, so a directory walk
 * alone reads 0). Each inode counts once. Without `pid`, or without /proc, the directory walk alone.
 */
export function tempBytes(dir: string, pid?: number): number {
  const files = new Map<string, number>();
  dirFiles(dir, files);
  if (pid !== undefined && HAS_PROC_FD) {
    let root: string;
    try {
      root = realpathSync(dir); // /proc shows resolved paths
    } catch {
      root = path.resolve(dir);
    }
    const prefix = root.endsWith(path.sep) ? root : root + path.sep;
    for (const p of processTree(pid)) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${p}/fd`);
      } catch {
        continue; // exited, or not ours to read
      }
      for (const fd of fds) {
        const link = `/proc/${p}/fd/${fd}`;
        try {
          const target = readlinkSync(link).replace(/ \(deleted\)$/, "");
          if (!target.startsWith(prefix)) continue;
          // stat follows the fd's magic link to the inode itself, even once it has no name.
          const st = statSync(link, { bigint: true });
          if (st.isFile()) files.set(`${st.dev}:${st.ino}`, Number(st.size));
        } catch {
          // the descriptor closed between readdir and stat
        }
      }
    }
  }
  let total = 0;
  for (const size of files.values()) total += size;
  return total;
}
