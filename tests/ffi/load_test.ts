/**
 * Tier 2: loading libzt. Failures run in child processes (rxzt loads one
 * libzt per process, and this process keeps the stand-in loaded); the
 * "already loaded" rule is checked here against the stand-in.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { LibraryLoadError, LibraryNotFoundError, loadLibzt, NodeStateError } from "../../mod.ts";
import { type ReportedError, runScenario } from "./_helpers.ts";
import {
  buildDir,
  buildSharedLibrary,
  STANDIN_SOURCE,
  standinLibztSymbols,
  standinPath,
} from "./_standin.ts";

interface Outcome {
  api: string;
  ok: boolean;
  value?: unknown;
  error?: ReportedError;
}

const SCENARIO = "./_scenario_load.ts";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

describe("loading libzt (child processes)", () => {
  let standin: string;
  let dir: string;
  let missingFile: string;
  let directory: string;
  let unrelatedLib: string;
  let partialLib: string;
  let notALibrary: string;
  let explicit: Outcome[];
  let badEnv: Outcome[];
  let noEnv: Outcome[];
  let noStopLib: string;
  let noStop: Outcome[];
  let oldApiLib: string;
  let oldApi: Outcome[];
  const badEnvPath = "/nonexistent/rxzt-tier2/libzt.so";

  before(async () => {
    standin = standinPath();
    dir = buildDir();
    missingFile = `${dir}/does-not-exist/libzt.so`;
    directory = `${dir}/a-directory.so`;
    Deno.mkdirSync(directory, { recursive: true });
    unrelatedLib = buildSharedLibrary("libunrelated", {
      code: "int rxzt_tier2_unrelated(void) { return 42; }\n",
    });
    // The stand-in with two symbols renamed away: exactly those two are missing.
    partialLib = buildSharedLibrary("libzt_partial", { file: STANDIN_SOURCE }, [
      "-Dzts_node_start=partial_renamed_node_start",
      "-Dzts_errno=partial_renamed_errno",
    ]);
    // The stand-in without zts_node_stop (a call rxzt binds as non-blocking).
    noStopLib = buildSharedLibrary("libzt_nostop", { file: STANDIN_SOURCE }, [
      "-Dzts_node_stop=partial_renamed_node_stop",
    ]);
    // A libzt older than 1.8 (homebrew-core's 1.4): the stand-in without its zts_bsd_* socket API.
    oldApiLib = buildSharedLibrary("libzt_old_api", { file: STANDIN_SOURCE }, [
      "-Dzts_bsd_socket=old_socket",
      "-Dzts_bsd_poll=old_poll",
      "-Dzts_bsd_recv=old_recv",
    ]);
    notALibrary = `${dir}/libzt_text.so`;
    Deno.writeTextFileSync(notALibrary, "this is a text file, not an ELF shared object\n");

    const runs = await Promise.all([
      runScenario<Outcome[]>(SCENARIO, [JSON.stringify([
        { api: "loadLibzt", libraryPath: missingFile },
        { api: "start", libraryPath: missingFile },
        { api: "generateIdentity", libraryPath: missingFile },
        { api: "createRootSet", libraryPath: missingFile },
        { api: "loadLibzt", libraryPath: directory },
        { api: "loadLibzt", libraryPath: unrelatedLib },
        { api: "start", libraryPath: partialLib },
        { api: "loadLibzt", libraryPath: notALibrary },
        // every failure above left nothing loaded: the real one still loads
        { api: "loadLibzt", libraryPath: standin },
      ])]),
      runScenario<Outcome[]>(SCENARIO, [JSON.stringify([
        { api: "loadLibzt" },
        { api: "start" },
        { api: "generateIdentity" },
        // an explicit path wins over a bad LIBZT_PATH
        { api: "loadLibzt", libraryPath: standin },
      ])], { env: { LIBZT_PATH: badEnvPath } }),
      runScenario<Outcome[]>(SCENARIO, [JSON.stringify([{ api: "loadLibzt" }])]),
      runScenario<Outcome[]>(SCENARIO, [
        JSON.stringify([{ api: "start", libraryPath: noStopLib }]),
      ]),
      runScenario<Outcome[]>(SCENARIO, [
        JSON.stringify([{ api: "loadLibzt", libraryPath: oldApiLib }]),
      ]),
    ]);
    for (const r of runs) {
      assert.equal(r.code, 0, `scenario failed: ${r.stderr}`);
      assert.ok(Array.isArray(r.json), `scenario printed no JSON: ${r.stdout}\n${r.stderr}`);
    }
    [explicit, badEnv, noEnv, noStop, oldApi] = runs.map((r) => r.json!);
  });

  test("an explicit nonexistent libraryPath: LibraryNotFoundError listing exactly that path", () => {
    for (const o of explicit.slice(0, 4)) {
      assert.equal(o.ok, false, `${o.api} should fail`);
      assert.equal(o.error!.name, "LibraryNotFoundError", o.api);
      assert.equal(o.error!.code, "LIBZT_NOT_FOUND", o.api);
      assert.deepEqual(o.error!.searched, [missingFile], o.api);
      assert.ok(o.error!.message.includes(missingFile), o.api);
    }
  });

  test("a directory is not a library file: LibraryNotFoundError", () => {
    const o = explicit[4];
    assert.equal(o.error?.name, "LibraryNotFoundError");
    assert.deepEqual(o.error!.searched, [directory]);
  });

  test("a shared library without libzt's symbols: LIBZT_MISSING_SYMBOLS naming every one", () => {
    const o = explicit[5];
    assert.equal(o.ok, false);
    assert.equal(o.error!.name, "LibraryLoadError");
    assert.equal(o.error!.code, "LIBZT_MISSING_SYMBOLS");
    assert.equal(o.error!.path, unrelatedLib);
    const missing = new Set(o.error!.missing);
    for (const name of ["zts_node_start", "zts_init_set_event_handler", "zts_errno"]) {
      assert.ok(missing.has(name), `missing should list ${name}`);
      assert.ok(o.error!.message.includes(name), `message should name ${name}`);
    }
    // everything listed really is a libzt symbol the stand-in provides
    const known = new Set(standinLibztSymbols());
    for (const name of missing) {
      assert.ok(known.has(name), `${name} is not part of the libzt subset`);
    }
  });

  test("a library with none of libzt's symbols: missing lists the whole subset rxzt uses", () => {
    // The stand-in exports exactly the libzt subset rxzt uses: a library with
    // none of it misses all of it, and nothing else.
    assert.deepEqual([...explicit[5].error!.missing!].sort(), standinLibztSymbols());
  });

  test("a library lacking only zts_node_stop is refused at load time", () => {
    const o = noStop[0];
    assert.equal(o.ok, false);
    assert.equal(o.error!.code, "LIBZT_MISSING_SYMBOLS");
    assert.deepEqual(o.error!.missing, ["zts_node_stop"]);
  });

  test("a libzt without the zts_bsd_* API: the error says it is too old and names libzt 1.8", () => {
    const e = oldApi[0].error!;
    assert.equal(e.code, "LIBZT_MISSING_SYMBOLS");
    assert.deepEqual([...e.missing!].sort(), ["zts_bsd_poll", "zts_bsd_recv", "zts_bsd_socket"]);
    assert.match(e.message, /too old for rxzt, which needs libzt 1\.8 or newer/);
    assert.match(e.message, /zts_bsd_\* socket API/);
    assert.match(e.message, /zerotier\/tap/);
  });

  test("a library lacking only some symbols: missing lists exactly those", () => {
    const o = explicit[6];
    assert.equal(o.error?.code, "LIBZT_MISSING_SYMBOLS");
    assert.equal(o.error!.path, partialLib);
    assert.deepEqual([...o.error!.missing!].sort(), ["zts_errno", "zts_node_start"]);
  });

  test("a file that is not a shared library: LIBZT_LOAD_FAILED with the cause", () => {
    const o = explicit[7];
    assert.equal(o.error?.name, "LibraryLoadError");
    assert.equal(o.error!.code, "LIBZT_LOAD_FAILED");
    assert.equal(o.error!.path, notALibrary);
    assert.deepEqual(o.error!.missing, []);
    assert.equal(o.error!.hasCause, true);
    assert.ok(o.error!.message.includes(notALibrary));
  });

  test("after failed loads the process can still load a good library", () => {
    assert.deepEqual(explicit[8], { api: "loadLibzt", ok: true, value: standin });
  });

  test("LIBZT_PATH pointing nowhere: LibraryNotFoundError listing it, no fallback", () => {
    for (const o of badEnv.slice(0, 3)) {
      assert.equal(o.ok, false, `${o.api} should fail`);
      assert.equal(o.error!.name, "LibraryNotFoundError", o.api);
      assert.deepEqual(o.error!.searched, [badEnvPath], o.api);
      assert.ok(o.error!.message.includes("LIBZT_PATH"), o.api);
    }
    assert.deepEqual(badEnv[3], { api: "loadLibzt", ok: true, value: standin });
  });

  test("without libraryPath or LIBZT_PATH: the usual locations, all listed when none exists", () => {
    const o = noEnv[0];
    if (o.ok) {
      // a libzt is installed on this machine: it must be a real file
      assert.ok(exists(o.value as string), `loaded ${o.value}, which does not exist`);
      return;
    }
    assert.equal(o.error!.name, "LibraryNotFoundError");
    const searched = o.error!.searched!;
    assert.ok(searched.length > 0);
    const file = Deno.build.os === "darwin" ? "libzt.dylib" : "libzt.so";
    for (const p of searched) {
      assert.ok(p.startsWith("/") && p.endsWith(`/${file}`), p);
      assert.equal(exists(p), false, `${p} exists but was not loaded`);
      assert.ok(o.error!.message.includes(p));
    }
  });
});

describe("loading libzt (this process, stand-in)", () => {
  test("one libzt per process: another path is refused, no path reuses the loaded one", () => {
    const standin = standinPath();
    assert.equal(loadLibzt({ libraryPath: standin }), standin);
    assert.equal(loadLibzt({ libraryPath: standin }), standin);
    assert.equal(loadLibzt(), standin);
    assert.throws(
      () => loadLibzt({ libraryPath: `${buildDir()}/another/libzt.so` }),
      (err) => err instanceof NodeStateError && err.code === "LIBZT_ALREADY_LOADED",
    );
    // errors of the loading family are not what a second path produces
    assert.throws(
      () => loadLibzt({ libraryPath: "/elsewhere/libzt.so" }),
      (err) => !(err instanceof LibraryNotFoundError) && !(err instanceof LibraryLoadError),
    );
  });
});
