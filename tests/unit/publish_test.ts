/**
 * Tier 1: what `deno publish` would ship (the JSR package). `deno publish
 * --dry-run` works offline and lists every file; the package must hold the
 * library and its docs, and no benchmarks, lock file, tests or Node-only code.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** The files `deno publish --dry-run` lists, relative to the repository. */
function publishedFiles(): string[] {
  const r = spawnSync(Deno.execPath(), ["publish", "--dry-run", "--allow-dirty"], {
    cwd: root,
    encoding: "utf8",
    env: { ...Deno.env.toObject(), NO_COLOR: "1" },
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, `deno publish --dry-run failed:\n${out}`);
  return [...out.matchAll(/^\s+file:\/\/(\S+) \(/gm)].map((m) =>
    m[1].slice(root.length).replace(/^\//, "")
  );
}

test("deno publish ships the library, its docs and examples, and nothing else", () => {
  const files = publishedFiles();
  // rootset_child_deno.ts is run by URL (createRootSet), so no import lists it.
  const required = ["mod.ts", "src/api.ts", "src/ffi/deno.ts", "src/ffi/rootset_child_deno.ts"];
  for (const needed of [...required, "README.md", "LICENSE"]) {
    assert.ok(files.includes(needed), `${needed} is missing from ${files.join(", ")}`);
  }
  const unwanted = files.filter((f) =>
    /^(bench|tests|scripts|npm|\.ci|\.cache)\//.test(f) || f === "deno.lock" || f === ".git" ||
    f === "mod_node.ts" || f === "src/ffi/koffi.ts" || f === "src/ffi/receive_worker_node.ts" ||
    f === "src/ffi/rootset_child_node.ts"
  );
  assert.deepEqual(unwanted, [], `unwanted files would be published: ${unwanted.join(", ")}`);
});
