/**
 * Tier 2 under Node only (`deno task test:npm`): the installed npm package as
 * a newcomer meets it. `require("rxzt")` works where Node can require() ES
 * modules and otherwise fails with an Error that says to use `import()`; the
 * shipped `.d.ts` files import no `.ts` paths; package.json says where the
 * sources are and which Node the code needs. Skipped under Deno (no npm
 * package there).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { describe, test } from "node:test";
import { runtime } from "./_runtime.ts";

const skip = runtime === "deno" ? "the npm package is tested under Node" : false;
/** The scratch project `deno task test:npm` installed the package into. */
const project = process.env.RXZT_NPM_PROJECT ?? "";
const installed = () => join(project, "node_modules", "rxzt");

/** Runs CommonJS `code` with `node -e` in the scratch project. */
function nodeCjs(code: string, flags: string[] = []) {
  return spawnSync(process.execPath, [...flags, "-e", code], {
    cwd: project,
    encoding: "utf8",
    timeout: 30_000,
  });
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]
  );
}

describe("tier 2 under node: the installed npm package", { skip }, () => {
  test("require('rxzt') gives the package where Node can require() ES modules", {
    skip: process.features.require_module ? false : "this Node cannot require() ES modules",
  }, () => {
    const r = nodeCjs(
      'const m = require("rxzt"); console.log(typeof m.ZeroTierNode, typeof m.loadLibzt);',
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "function function");
  });

  test("without require(esm), require('rxzt') throws an Error that says to use import()", () => {
    // Node 20.19+ and 22.12+ can turn require(esm) off, which stands for older Nodes.
    const flags = process.features.require_module ? ["--no-experimental-require-module"] : [];
    const r = nodeCjs(
      'try { require("rxzt"); console.log("loaded"); } catch (e) { ' +
        "console.log(JSON.stringify({ code: e.code, message: e.message })); }",
      flags,
    );
    assert.equal(r.status, 0, r.stderr);
    const err = JSON.parse(r.stdout) as { code: string; message: string };
    assert.equal(err.code, "RXZT_ESM_ONLY");
    assert.match(err.message, /ESM-only/);
    assert.match(err.message, /await import\("rxzt"\)/);
  });

  test("the shipped .d.ts files import no .ts paths", () => {
    const offenders: string[] = [];
    for (const file of listFiles(join(installed(), "esm")).filter((f) => f.endsWith(".d.ts"))) {
      const code = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/^\s*\/\/.*$/gm, "");
      const found = code.match(/(\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'][^"']*\.ts["']/gm);
      if (found) offenders.push(`${file.slice(installed().length + 1)}: ${found.join(", ")}`);
    }
    assert.deepEqual(offenders, []);
  });

  test("package.json names the repository and the Node the code needs", () => {
    const pkg = JSON.parse(readFileSync(join(installed(), "package.json"), "utf8"));
    assert.match(pkg.repository.url, /^git\+https:\/\/github\.com\/rxzt\/rxzt\.git$/);
    assert.equal(pkg.homepage, "https://github.com/rxzt/rxzt#readme");
    assert.equal(pkg.bugs.url, "https://github.com/rxzt/rxzt/issues");
    // AbortSignal.any (20.3) and Symbol.asyncDispose (20.4).
    assert.equal(pkg.engines.node, ">=20.4.0");
    assert.equal(typeof AbortSignal.any, "function");
    const readme = readFileSync(join(installed(), "README.md"), "utf8");
    assert.match(readme, /npm install rxzt/);
    assert.doesNotMatch(readme, /deno task/, "the npm README is written for Node users");
  });
});
