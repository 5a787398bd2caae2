/**
 * Tier-2 helpers: bounded waits on observables and conditions, and running
 * scenario scripts in a child Deno process with a hard time limit.
 */
import type { Observable, Subscription } from "rxjs";

/** Rejects after `ms` with a message naming `what`; clears its timer when `promise` settles. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** Resolves with the first value of `source$` that satisfies `pred`, or rejects after `ms`. */
export function firstMatch<T>(
  source$: Observable<T>,
  pred: (value: T) => boolean,
  what: string,
  ms = 3000,
): Promise<T> {
  let sub: Subscription | undefined;
  const p = new Promise<T>((resolve, reject) => {
    sub = source$.subscribe({
      next: (v) => {
        if (pred(v)) resolve(v);
      },
      error: reject,
      complete: () => reject(new Error(`completed before ${what}`)),
    });
  });
  return within(p, ms, what).finally(() => sub?.unsubscribe());
}

/** Polls `cond` every few ms until it is true, or rejects after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** What a subscription saw. */
export interface Recording<T> {
  readonly values: T[];
  completed: boolean;
  error: unknown;
  readonly subscription: Subscription;
}

/** Subscribes and records every value, completion and error. */
export function record<T>(source$: Observable<T>): Recording<T> {
  const rec = { values: [] as T[], completed: false, error: undefined as unknown } as Recording<T>;
  const subscription = source$.subscribe({
    next: (v) => rec.values.push(v),
    error: (e) => (rec.error = e),
    complete: () => (rec.completed = true),
  });
  return Object.assign(rec, { subscription });
}

/** Result of a scenario run in a child process. */
export interface ScenarioRun<T> {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The last line of stdout, parsed as JSON (undefined when it is not JSON). */
  readonly json: T | undefined;
  readonly elapsedMs: number;
}

/**
 * Runs `deno run -A <script> ...args` in a child process and waits at most
 * `limitMs` for it to exit by itself; past that it is killed and this rejects.
 * The child gets this process's environment without `LIBZT_PATH`, plus `env`;
 * `denoFlags` go before the script (e.g. `--v8-flags=--expose-gc`).
 */
export async function runScenario<T = unknown>(
  script: string,
  args: string[],
  options: { env?: Record<string, string>; limitMs?: number; denoFlags?: string[] } = {},
): Promise<ScenarioRun<T>> {
  const limitMs = options.limitMs ?? 20_000;
  const env = Deno.env.toObject();
  delete env.LIBZT_PATH;
  Object.assign(env, options.env ?? {});
  const path = new URL(script, import.meta.url).pathname;
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", ...(options.denoFlags ?? []), path, ...args],
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), limitMs);
  });
  const first = await Promise.race([output, timedOut]);
  clearTimeout(timer);
  if (first === "timeout") {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    const late = await output;
    throw new Error(
      `${script} ${args.join(" ")} did not exit within ${limitMs} ms (killed).\n` +
        `stdout: ${new TextDecoder().decode(late.stdout)}\nstderr: ${
          new TextDecoder().decode(late.stderr)
        }`,
    );
  }
  const stdout = new TextDecoder().decode(first.stdout);
  const stderr = new TextDecoder().decode(first.stderr);
  const last = stdout.trim().split("\n").at(-1) ?? "";
  let json: T | undefined;
  try {
    json = JSON.parse(last) as T;
  } catch {
    json = undefined;
  }
  return { code: first.code, stdout, stderr, json, elapsedMs: performance.now() - started };
}

/** An error as a scenario script reports it in JSON. */
export interface ReportedError {
  name: string;
  code?: string;
  message: string;
  argument?: string;
  searched?: string[];
  missing?: string[];
  path?: string;
  permissions?: string[];
  hasCause?: boolean;
}

/** Serialises an error for a scenario's JSON output. */
export function reportError(err: unknown): ReportedError {
  const e = err as Record<string, unknown> & Error;
  return {
    name: e?.name ?? String(err),
    code: typeof e?.code === "string" ? e.code : undefined,
    message: e?.message ?? String(err),
    argument: typeof e?.argument === "string" ? e.argument : undefined,
    searched: Array.isArray(e?.searched) ? [...(e.searched as string[])] : undefined,
    missing: Array.isArray(e?.missing) ? [...(e.missing as string[])] : undefined,
    path: typeof e?.path === "string" ? e.path : undefined,
    permissions: Array.isArray(e?.permissions) ? [...(e.permissions as string[])] : undefined,
    hasCause: e?.cause !== undefined,
  };
}

/** Lowercase hex of a bigint, left-padded to `digits` (independent of rxzt's hexId). */
export function hex(value: bigint, digits: number): string {
  let s = "";
  for (let i = 0; i < digits; i++) {
    s = "0123456789abcdef"[Number((value >> BigInt(4 * i)) & 0xfn)] + s;
  }
  return s;
}
