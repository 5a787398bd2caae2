/**
 * Tier-2 scenario (run in a child process by load_test.ts): tries to load
 * libzt through rxzt's public API, once per attempt, and prints a JSON array
 * with each outcome. A failed load leaves nothing loaded, so attempts that
 * fail are independent; put a successful one last.
 *
 * Usage: deno run -A _scenario_load.ts '<json: [{ api, libraryPath? }]>'
 */
import { createRootSet, generateIdentity, loadLibzt, ZeroTierNode } from "../../mod.ts";
import { reportError } from "./_helpers.ts";

interface Attempt {
  api: "loadLibzt" | "start" | "generateIdentity" | "createRootSet";
  libraryPath?: string;
}

const attempts = JSON.parse(Deno.args[0] ?? "[]") as Attempt[];
const results: unknown[] = [];
const ROOT = "0123456789:0:" + "ab".repeat(64);

for (const a of attempts) {
  const opts = a.libraryPath === undefined ? {} : { libraryPath: a.libraryPath };
  try {
    let value: unknown;
    if (a.api === "loadLibzt") value = loadLibzt(opts);
    if (a.api === "generateIdentity") value = generateIdentity(opts);
    if (a.api === "createRootSet") {
      value =
        createRootSet({ roots: [{ identity: ROOT, endpoints: ["10.0.0.1/9993"] }], ...opts }).bytes
          .length;
    }
    if (a.api === "start") {
      const node = await ZeroTierNode.start({ ...opts, timeout: 5000 });
      value = { nodeId: node.nodeId, libraryPath: node.libraryPath };
      await node.stop();
    }
    results.push({ api: a.api, ok: true, value });
  } catch (err) {
    results.push({ api: a.api, ok: false, error: reportError(err) });
  }
}
console.log(JSON.stringify(results));
