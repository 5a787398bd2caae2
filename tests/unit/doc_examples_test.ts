/**
 * Tier 1: the results promised in `@example` comments of the pure modules
 * (`src/addressing.ts`, `src/ip.ts`) match what the code does. Only example
 * lines of the form `fn(<JSON args>); // <JSON result or undefined>` are
 * checked; the others are skipped.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as addressing from "../../src/addressing.ts";
import * as ip from "../../src/ip.ts";

const MODULES: [string, Record<string, unknown>][] = [
  ["addressing.ts", addressing],
  ["ip.ts", ip],
];

/** Examples known to be wrong in the docs (the code is right): line -> reason. */
// Examples known to be wrong, with the reason (none at present).
const KNOWN_BAD: Record<string, string> = {};

interface Example {
  line: string;
  fn: string;
  args: unknown[];
  expected: unknown;
}

function examples(file: string): Example[] {
  const text = readFileSync(new URL(`../../src/${file}`, import.meta.url), "utf8");
  const out: Example[] = [];
  const re = /^\s*\*\s*([A-Za-z_$][\w$]*)\((.*)\);\s*\/\/\s*(.+?)\s*$/gm;
  for (const m of text.matchAll(re)) {
    let args: unknown[];
    let expected: unknown;
    try {
      args = JSON.parse(`[${m[2]}]`);
      expected = m[3] === "undefined" ? undefined : JSON.parse(m[3]);
    } catch {
      continue; // not a simple literal example
    }
    out.push({ line: m[0].replace(/^\s*\*\s*/, ""), fn: m[1], args, expected });
  }
  return out;
}

for (const [file, mod] of MODULES) {
  describe(`@example results in src/${file}`, () => {
    const found = examples(file);
    test("has checkable examples", () => {
      assert.ok(found.length > 0);
    });
    for (const ex of found) {
      test(ex.line, { todo: KNOWN_BAD[ex.line] }, () => {
        const fn = mod[ex.fn];
        assert.equal(typeof fn, "function", `${ex.fn} is exported`);
        assert.deepEqual((fn as (...a: unknown[]) => unknown)(...ex.args), ex.expected);
      });
    }
  });
}
