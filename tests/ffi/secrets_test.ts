/**
 * Tier 2: what rxzt itself writes to disk is owner-only. The only files rxzt
 * writes are the root-set signing keys, in the scratch directory where
 * `zts_util_sign_root_set` runs (libzt reads and writes its keys in the
 * working directory). The storage directory case is in misuse_test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { openDenoLibrary } from "../../src/ffi/deno.ts";
import { standinPath } from "./_standin.ts";

describe("files rxzt writes", () => {
  test("the signing scratch directory is 0700, the keys in it 0600, and it is gone afterwards", () => {
    const lib = openDenoLibrary(standinPath());
    const before = Deno.cwd();
    const key = new Uint8Array(128).fill(7);
    const seen = lib.inScratchDirectory({ "previous.c25519": key, "current.c25519": key }, () => {
      const dir = Deno.cwd();
      return {
        dir,
        dirMode: Deno.statSync(dir).mode! & 0o777,
        fileModes: ["previous.c25519", "current.c25519"].map((f) =>
          Deno.statSync(`${dir}/${f}`).mode! & 0o777
        ),
        content: Deno.readFileSync(`${dir}/current.c25519`),
      };
    });
    assert.equal(seen.dirMode, 0o700);
    assert.deepEqual(seen.fileModes, [0o600, 0o600]);
    assert.deepEqual(seen.content, key);
    assert.equal(Deno.cwd(), before, "the working directory is restored");
    assert.throws(
      () => Deno.statSync(seen.dir),
      Deno.errors.NotFound,
      "the scratch directory is removed",
    );
  });

  test("the scratch directory is removed and the cwd restored when the call throws", () => {
    const lib = openDenoLibrary(standinPath());
    const before = Deno.cwd();
    let dir = "";
    assert.throws(() =>
      lib.inScratchDirectory({}, () => {
        dir = Deno.cwd();
        throw new Error("boom");
      }), /boom/);
    assert.equal(Deno.cwd(), before);
    assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound);
  });
});
