/**
 * What the shared tests in tests/npm/ need from the runtime they run in, for
 * Deno and Node alike: which runtime this is, the stand-in built with `cc`,
 * its `standin_*` control functions (Deno.dlopen or koffi), and child
 * processes running a scenario script in the same runtime.
 *
 * The tests import rxzt as `"rxzt"`: Deno maps it to `mod.ts` (deno.json
 * imports), Node resolves the installed npm package (`deno task test:npm`).
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

// deno-lint-ignore no-explicit-any
const deno = (globalThis as any).Deno;

/** The runtime these tests run in. */
export const runtime: "deno" | "node" = deno ? "deno" : "node";

/** The repository root (for Node, the compiled tests live elsewhere: RXZT_REPO says where). */
export const repoRoot: string = process.env.RXZT_REPO ??
  fileURLToPath(new URL("../..", import.meta.url));

let workDir: string | undefined;
/** A private directory for this process's build artifacts, removed at exit. */
export function buildDir(): string {
  if (workDir === undefined) {
    const dir = workDir = mkdtempSync(join(tmpdir(), "rxzt_npm_tier2_"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return workDir;
}

/** Compiles C `code` (or the file `file`) into a shared library; a missing compiler is a failure, never a skip. */
export function buildSharedLibrary(
  name: string,
  source: { file: string } | { code: string },
): string {
  const dir = buildDir();
  let file: string;
  if ("file" in source) file = source.file;
  else {
    file = join(dir, `${name}.c`);
    execFileSync("sh", ["-c", `cat > "${file}"`], { input: source.code });
  }
  const out = join(dir, `${name}.so`);
  const cc = process.env.CC || "cc";
  try {
    execFileSync(cc, ["-shared", "-fPIC", "-O1", "-pthread", "-o", out, file], {
      stdio: ["ignore", "ignore", "pipe"],
    });
  } catch (err) {
    const e = err as { code?: string; stderr?: Uint8Array };
    if (e.code === "ENOENT") {
      throw new Error(
        `Tier-2 tests need a C compiler to build the libzt stand-in, but \`${cc}\` was not found. ` +
          "Install one (e.g. `apt-get install build-essential`) or set CC.",
      );
    }
    throw new Error(
      `building ${name} failed: ${new TextDecoder().decode(e.stderr ?? new Uint8Array())}`,
    );
  }
  return out;
}

let standin: string | undefined;
/** Path of the libzt stand-in (tests/native/zts_standin.c), built once per process. */
export function standinPath(): string {
  return standin ??= buildSharedLibrary("libzt_standin", {
    file: join(repoRoot, "tests/native/zts_standin.c"),
  });
}

/** The stand-in's test-only control API. */
export interface StandinControl {
  emitBurst(code: number, id: bigint, n: number): void;
  dropped(): bigint;
  delivered(): bigint;
  handlerThreadIsCaller(): boolean;
  eventThreadId(): bigint;
  currentThreadId(): bigint;
  openSockets(): number;
}

/** Binds the control functions of the SAME stand-in file rxzt loaded (shared globals). */
export async function standinControl(path: string): Promise<StandinControl> {
  if (deno) {
    const s = deno.dlopen(path, {
      standin_emit_burst: { parameters: ["i32", "u64", "i32"], result: "void" },
      standin_dropped_events: { parameters: [], result: "u64" },
      standin_delivered_events: { parameters: [], result: "u64" },
      standin_handler_thread_is_caller: { parameters: [], result: "i32" },
      standin_event_thread_id: { parameters: [], result: "u64" },
      standin_current_thread_id: { parameters: [], result: "u64" },
      standin_open_sockets: { parameters: [], result: "i32" },
    }).symbols;
    return {
      emitBurst: (code, id, n) => s.standin_emit_burst(code, id, n),
      dropped: () => BigInt(s.standin_dropped_events()),
      delivered: () => BigInt(s.standin_delivered_events()),
      handlerThreadIsCaller: () => s.standin_handler_thread_is_caller() === 1,
      eventThreadId: () => BigInt(s.standin_event_thread_id()),
      currentThreadId: () => BigInt(s.standin_current_thread_id()),
      openSockets: () => s.standin_open_sockets(),
    };
  }
  const koffiName = "koffi"; // resolved from the installed package's dependencies
  const koffi = (await import(koffiName)).default;
  const lib = koffi.load(path);
  const f = (name: string, result: string, params: string[]) => lib.func(name, result, params);
  const burst = f("standin_emit_burst", "void", ["int32_t", "uint64_t", "int32_t"]);
  const dropped = f("standin_dropped_events", "uint64_t", []);
  const delivered = f("standin_delivered_events", "uint64_t", []);
  const isCaller = f("standin_handler_thread_is_caller", "int32_t", []);
  const eventThread = f("standin_event_thread_id", "uint64_t", []);
  const currentThread = f("standin_current_thread_id", "uint64_t", []);
  const open = f("standin_open_sockets", "int32_t", []);
  return {
    emitBurst: (code, id, n) => burst(code, id, n),
    dropped: () => BigInt(dropped()),
    delivered: () => BigInt(delivered()),
    handlerThreadIsCaller: () => isCaller() === 1,
    eventThreadId: () => BigInt(eventThread()),
    currentThreadId: () => BigInt(currentThread()),
    openSockets: () => open(),
  };
}

/** A sibling script of this module in the running form (`.ts` under Deno, `.js` compiled for Node). */
export function siblingScript(name: string): string {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return fileURLToPath(new URL(`./${name}${ext}`, import.meta.url));
}

/** The command that runs a script in this runtime. */
export function runtimeCommand(script: string): string[] {
  return runtime === "deno"
    ? [process.execPath, "run", "-A", "--quiet", script]
    : [process.execPath, script];
}

/** Result of a scenario run in a child process. */
export interface ScenarioRun<T> {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The last line of stdout, parsed as JSON. */
  readonly json: T | undefined;
  readonly elapsedMs: number;
}

/**
 * Runs `<scenario script> ...args` in a child process of this runtime and
 * waits at most `limitMs` for it to exit BY ITSELF; past that it is killed and
 * this rejects. The child's environment: this one's, minus LIBZT_PATH, plus
 * `env` (where "" removes a variable); `nodeFlags` go to node (not deno).
 */
export function runScenario<T = Record<string, unknown>>(
  name: string,
  args: string[],
  options: { env?: Record<string, string>; limitMs?: number; nodeFlags?: string[] } = {},
): Promise<ScenarioRun<T>> {
  const limitMs = options.limitMs ?? 30_000;
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  if (!options.env?.LIBZT_PATH) delete env.LIBZT_PATH;
  for (const [k, v] of Object.entries(env)) if (v === "") delete env[k]; // "" unsets

  const [cmd, ...rest] = runtimeCommand(siblingScript(name));
  if (runtime === "node") rest.unshift(...(options.nodeFlags ?? []));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...rest, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `${name} ${
            args.join(" ")
          } did not exit within ${limitMs} ms (killed).\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, limitMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      const last = stdout.trim().split("\n").at(-1) ?? "";
      let json: T | undefined;
      try {
        json = JSON.parse(last) as T;
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json, elapsedMs: performance.now() - started });
    });
  });
}

/** Whether a file exists (for skips that name what is missing). */
export const exists = (path: string): boolean => existsSync(path);
