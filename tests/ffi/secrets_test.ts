/**
 * Tier 2: what rxzt itself writes to disk is owner-only. The only files rxzt
 * writes are the root-set signing keys, in the scratch directory that is the
 * working directory of the child process where `zts_util_sign_root_set` runs
 * (libzt reads and writes its keys in the working directory). The storage
 * directory case is in misuse_test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { inspect as nodeInspect } from "node:util";
import { createRootSet, generateIdentity, publicIdentity } from "../../mod.ts";
import { openDenoLibrary } from "../../src/ffi/deno.ts";
import { standinPath } from "./_standin.ts";

describe("files rxzt writes", () => {
  test("the signing scratch directory is 0700, the keys in it 0600, and it is gone afterwards", () => {
    const lib = openDenoLibrary(standinPath());
    const before = Deno.cwd();
    const key = new Uint8Array(128).fill(7);
    const seen = lib.inScratchDirectory(
      { "previous.c25519": key, "current.c25519": key },
      (dir) => {
        assert.equal(Deno.cwd(), before, "the working directory changed");
        return {
          dir,
          dirMode: Deno.statSync(dir).mode! & 0o777,
          fileModes: ["previous.c25519", "current.c25519"].map((f) =>
            Deno.statSync(`${dir}/${f}`).mode! & 0o777
          ),
          content: Deno.readFileSync(`${dir}/current.c25519`),
        };
      },
    );
    assert.equal(seen.dirMode, 0o700);
    assert.deepEqual(seen.fileModes, [0o600, 0o600]);
    assert.deepEqual(seen.content, key);
    assert.equal(Deno.cwd(), before, "the working directory changed");
    assert.throws(
      () => Deno.statSync(seen.dir),
      Deno.errors.NotFound,
      "the scratch directory is removed",
    );
  });

  test("the scratch directory is removed when the call throws", () => {
    const lib = openDenoLibrary(standinPath());
    const before = Deno.cwd();
    let dir = "";
    assert.throws(() =>
      lib.inScratchDirectory({}, (scratch) => {
        dir = scratch;
        throw new Error("boom");
      }), /boom/);
    assert.equal(Deno.cwd(), before);
    assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound);
  });

  test("a root set's signing keys stay readable but print redacted", () => {
    const libraryPath = standinPath();
    const planet = createRootSet({
      roots: [{
        identity: publicIdentity(generateIdentity({ libraryPath })),
        endpoints: ["10.99.0.1/9993"],
      }],
      libraryPath,
    });
    const { previous, current } = planet.signingKeys;
    assert.ok(previous instanceof Uint8Array && previous.length > 0);
    assert.ok(current instanceof Uint8Array && current.length > 0);
    // Bytes as each format prints them, whitespace removed ("1,2,3" / {"0":1,"1":2}).
    const needles = (
      b: Uint8Array,
    ) => [[...b.subarray(0, 8)].join(","), `"0":${b[0]},"1":${b[1]},"2":${b[2]}`];
    const exposes = (text: string, b: Uint8Array) =>
      needles(b).some((n) => text.replace(/\s+/g, "").includes(n));
    const shows = (
      v: unknown,
    ) => [Deno.inspect(v, { depth: 10 }), nodeInspect(v, { depth: 10 }), JSON.stringify(v)];
    for (const text of shows({ copy: current })) {
      assert.ok(exposes(text, current), "the check sees plain bytes");
    }
    for (const text of [...shows(planet), ...shows(planet.signingKeys)]) {
      assert.ok(!exposes(text, current) && !exposes(text, previous), text);
      assert.ok(text.includes("redacted"), text);
    }
    // Passing them back for the next root set still works.
    const next = createRootSet({
      roots: [{
        identity: publicIdentity(generateIdentity({ libraryPath })),
        endpoints: ["10.99.0.1/9993"],
      }],
      signingKeys: planet.signingKeys,
      libraryPath,
    });
    assert.ok(next.bytes.length > 0);
  });
});
