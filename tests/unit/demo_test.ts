/**
 * Tier 1: `deno task demo` without libzt, as a newcomer first runs it. It must
 * print the LibraryNotFoundError's message (which says how to install libzt)
 * and exit 1, with no uncaught-error stack trace.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

test("deno task demo without libzt: the install hint, exit status 1, no stack trace", () => {
  const missing = "/nonexistent/rxzt-demo-test/libzt.so";
  const out = new Deno.Command(Deno.execPath(), {
    args: ["task", "demo"],
    cwd: root,
    env: { LIBZT_PATH: missing, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  const all = `${stdout}\n${stderr}`;
  assert.equal(out.code, 1, all);
  assert.match(stderr, /error \(LIBZT_NOT_FOUND\): libzt was not found at LIBZT_PATH=/);
  assert.ok(stderr.includes(missing), all);
  assert.match(stderr, /zerotier\/tap/);
  assert.doesNotMatch(all, /Uncaught/);
  assert.doesNotMatch(all, /^\s+at .*:\d+:\d+\)?$/m, "no stack trace");
});
