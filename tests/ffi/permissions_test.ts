/**
 * Tier 2: Deno permissions. Each case runs `_scenario_load.ts` in a child
 * `deno run --no-prompt` with only some permissions, and checks that a
 * missing one is reported as a `PermissionError` naming the flag to add,
 * never as "LIBZT_PATH is not set" or "no such file"; and that the minimal
 * set the README lists starts a node on the stand-in.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type { ReportedError } from "./_helpers.ts";
import { standinPath } from "./_standin.ts";

interface Outcome {
  api: string;
  ok: boolean;
  value?: unknown;
  error?: ReportedError;
}

const SCENARIO = new URL("./_scenario_load.ts", import.meta.url).pathname;

/** Runs the load scenario with exactly `flags` as permissions; `LIBZT_PATH` as given. */
function runRestricted(
  flags: string[],
  attempts: { api: string; libraryPath?: string }[],
  libztPath?: string,
): Outcome[] {
  const env = Deno.env.toObject();
  delete env.LIBZT_PATH;
  if (libztPath !== undefined) env.LIBZT_PATH = libztPath;
  const out = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--quiet", ...flags, SCENARIO, JSON.stringify(attempts)],
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `scenario failed (${flags.join(" ")}):\n${stdout}\n${stderr}`);
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as Outcome[];
}

function assertPermissionError(o: Outcome, permissions: string[], mentions: RegExp[]): void {
  assert.equal(o.ok, false, `${o.api} should fail`);
  const e = o.error!;
  assert.equal(e.name, "PermissionError", JSON.stringify(e));
  assert.equal(e.code, "PERMISSION_DENIED");
  assert.deepEqual(e.permissions, permissions);
  for (const m of mentions) assert.match(e.message, m);
  assert.doesNotMatch(e.message, /is not set|no such file/);
}

describe("Deno permissions (child processes)", () => {
  let libzt: string;
  before(() => {
    libzt = standinPath();
  });

  test("no permissions at all: the error names --allow-env=LIBZT_PATH and --allow-read", () => {
    const [o] = runRestricted([], [{ api: "loadLibzt" }], libzt);
    assertPermissionError(o, ["--allow-env=LIBZT_PATH", "--allow-read"], [
      /--allow-env=LIBZT_PATH/,
      /--allow-read/,
    ]);
  });

  test("LIBZT_PATH readable but not the file: the error names --allow-read=<that path>", () => {
    const [o] = runRestricted(["--allow-env=LIBZT_PATH"], [{ api: "start" }], libzt);
    assertPermissionError(o, [`--allow-read=${libzt}`], [new RegExp(`--allow-read=${libzt}`)]);
  });

  test("no --allow-ffi, or one scoped to a path: the error names --allow-ffi", () => {
    const base = ["--allow-env=LIBZT_PATH", `--allow-read=${libzt}`];
    for (const flags of [base, [...base, `--allow-ffi=${libzt}`]]) {
      const outcomes = runRestricted(flags, [
        { api: "loadLibzt" },
        { api: "generateIdentity" },
        { api: "start" },
      ], libzt);
      for (const o of outcomes) assertPermissionError(o, ["--allow-ffi"], [/--allow-ffi\b/]);
    }
  });

  test("the README's minimal permissions start a node on the stand-in", () => {
    const [o] = runRestricted(
      ["--allow-env=LIBZT_PATH", `--allow-read=${libzt}`, "--allow-ffi"],
      [{ api: "start" }],
      libzt,
    );
    assert.equal(o.ok, true, JSON.stringify(o.error));
    assert.equal((o.value as { libraryPath: string }).libraryPath, libzt);
  });

  test("with an explicit libraryPath, --allow-env is not needed", () => {
    const [o] = runRestricted(
      [`--allow-read=${libzt}`, "--allow-ffi"],
      [{ api: "loadLibzt", libraryPath: libzt }],
    );
    assert.equal(o.ok, true, JSON.stringify(o.error));
  });

  test("createRootSet without --allow-run: the error names --allow-run=<deno>", () => {
    const [o] = runRestricted(
      ["--allow-read", "--allow-write", "--allow-ffi"],
      [{ api: "createRootSet", libraryPath: libzt }],
    );
    assertPermissionError(o, [`--allow-run=${Deno.execPath()}`], [/--allow-run\b/]);
  });

  test("createRootSet with --allow-run=<deno>, the temp directory and FFI signs in the child", () => {
    const [o] = runRestricted(
      [`--allow-run=${Deno.execPath()}`, "--allow-read", "--allow-write", "--allow-ffi"],
      [{ api: "createRootSet", libraryPath: libzt }],
    );
    assert.equal(o.ok, true, JSON.stringify(o.error));
    assert.ok((o.value as number) > 17);
  });
});
