/**
 * Tier 2: identity helpers and root sets through the stand-in (no node needed).
 *
 * Stand-in rules used here (tests/native/zts_standin.c):
 *  - identities are "<10 hex>:0:<128 hex>:<128 hex>" and any string of that
 *    form is valid;
 *  - zts_util_sign_root_set writes: u8 0x01, u64 id BE, u64 ts BE, then per
 *    root a u16-BE-length-prefixed public id, each endpoint the same way, and
 *    an empty string ending the root; it reads previous.c25519/current.c25519
 *    from the working directory when both exist (else makes a new key).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  createRootSet,
  generateIdentity,
  identityNodeId,
  InvalidArgumentError,
  isValidIdentity,
  LibztCallError,
  publicIdentity,
  UnavailableError,
} from "../../mod.ts";
import { openDenoLibrary } from "../../src/ffi/deno.ts";
import { readReply, signRootSet, signRootSetHere } from "../../src/ffi/rootset.ts";
import { standinPath } from "./_standin.ts";

const SECRET = /^[0-9a-f]{10}:0:[0-9a-f]{128}:[0-9a-f]{128}$/;

interface ParsedRootSet {
  version: number;
  worldId: bigint;
  timestamp: bigint;
  roots: { identity: string; endpoints: string[] }[];
}

/** Parses the stand-in's fake root-set blob (format in the header above). */
function parseRootSet(bytes: Uint8Array): ParsedRootSet {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 17;
  const str = () => {
    assert.ok(pos + 2 <= bytes.length, "truncated length");
    const n = view.getUint16(pos, false);
    pos += 2;
    assert.ok(pos + n <= bytes.length, "truncated string");
    const s = new TextDecoder().decode(bytes.subarray(pos, pos + n));
    pos += n;
    return s;
  };
  const roots: ParsedRootSet["roots"] = [];
  while (pos < bytes.length) {
    const identity = str();
    const endpoints: string[] = [];
    for (let e = str(); e !== ""; e = str()) endpoints.push(e);
    roots.push({ identity, endpoints });
  }
  return {
    version: bytes[0],
    worldId: view.getBigUint64(1, false),
    timestamp: view.getBigUint64(9, false),
    roots,
  };
}

function randomKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(128));
}

function listDir(path: string): string[] {
  return [...Deno.readDirSync(path)].map((e) => e.name).sort();
}

describe("identity helpers through the stand-in", () => {
  const libraryPath = standinPath();

  test("generateIdentity returns a well-formed secret identity, a new one each call", () => {
    const a = generateIdentity({ libraryPath });
    const b = generateIdentity({ libraryPath });
    assert.match(a, SECRET);
    assert.match(b, SECRET);
    assert.notEqual(a, b);
    assert.equal(isValidIdentity(a, { libraryPath }), true);
  });

  test("node id and public part are the identity's own fields", () => {
    const secret = generateIdentity({ libraryPath });
    const [id, zero, pub, priv] = secret.split(":");
    assert.equal(identityNodeId(secret), id);
    assert.equal(publicIdentity(secret), `${id}:${zero}:${pub}`);
    assert.equal(identityNodeId(publicIdentity(secret)), id);
    assert.ok(!publicIdentity(secret).includes(priv));
  });

  test("isValidIdentity is false for anything that is not a secret identity", () => {
    const good = generateIdentity({ libraryPath });
    const bad = [
      "",
      "nope",
      good.toUpperCase(),
      good.slice(0, -1),
      good + "0",
      good + ":00",
      publicIdentity(good),
      good.replace(":0:", ":1:"),
      ` ${good}`,
      `${good}\0`,
    ];
    for (const s of bad) {
      assert.equal(isValidIdentity(s, { libraryPath }), false, JSON.stringify(s.slice(0, 20)));
    }
    assert.equal(isValidIdentity(42 as unknown as string, { libraryPath }), false);
  });

  test("publicIdentity/identityNodeId reject malformed input with InvalidArgumentError(identity)", () => {
    for (const fn of [publicIdentity, identityNodeId]) {
      assert.throws(
        () => fn("xyz"),
        (e) => e instanceof InvalidArgumentError && e.argument === "identity",
      );
    }
    const pub = publicIdentity(generateIdentity({ libraryPath }));
    assert.throws(
      () => publicIdentity(pub),
      (e) => e instanceof InvalidArgumentError && e.argument === "identity",
    );
  });
});

describe("createRootSet through the stand-in", () => {
  const libraryPath = standinPath();

  test("the signed blob carries the world id, timestamp, identities and endpoints given", () => {
    const roots = [
      {
        identity: publicIdentity(generateIdentity({ libraryPath })),
        endpoints: ["10.99.0.1/9993", "fd00::1/443"],
      },
      {
        identity: publicIdentity(generateIdentity({ libraryPath })),
        endpoints: ["192.0.2.7/21000"],
      },
    ];
    const worldId = 0x0123456789abcdefn;
    const timestamp = 1_700_000_123_456;
    const set = createRootSet({ roots, worldId, timestamp, libraryPath });
    assert.ok(set.bytes instanceof Uint8Array);
    const parsed = parseRootSet(set.bytes);
    assert.equal(parsed.version, 1);
    assert.equal(parsed.worldId, worldId);
    assert.equal(parsed.timestamp, BigInt(timestamp));
    assert.deepEqual(parsed.roots, roots);
  });

  test("defaults: a world id other than ZeroTier's planet and the current time", () => {
    const before = Date.now();
    const set = createRootSet({
      roots: [{
        identity: publicIdentity(generateIdentity({ libraryPath })),
        endpoints: ["10.0.0.1/9993"],
      }],
      libraryPath,
    });
    const parsed = parseRootSet(set.bytes);
    assert.notEqual(parsed.worldId, 149604618n);
    assert.ok(parsed.worldId > 0n);
    assert.ok(parsed.timestamp >= BigInt(before) && parsed.timestamp <= BigInt(Date.now()));
  });

  test("signing keys are 128 bytes; passing them back signs with exactly those keys", () => {
    const roots = [{
      identity: publicIdentity(generateIdentity({ libraryPath })),
      endpoints: ["10.0.0.1/9993"],
    }];
    const first = createRootSet({ roots, libraryPath });
    assert.equal(first.signingKeys.previous.length, 128);
    assert.equal(first.signingKeys.current.length, 128);
    const second = createRootSet({ roots, signingKeys: first.signingKeys, libraryPath });
    assert.deepEqual(second.signingKeys.previous, first.signingKeys.previous);
    assert.deepEqual(second.signingKeys.current, first.signingKeys.current);

    // previous and current are passed through separately, not swapped or merged
    const rotated = { previous: first.signingKeys.current, current: randomKey() };
    const third = createRootSet({ roots, signingKeys: rotated, libraryPath });
    assert.deepEqual(third.signingKeys.previous, rotated.previous);
    assert.deepEqual(third.signingKeys.current, rotated.current);

    // without keys, a new pair each time
    const fresh = createRootSet({ roots, libraryPath });
    assert.notDeepEqual(fresh.signingKeys.current, first.signingKeys.current);
  });

  test("the caller's cwd is neither read nor written, and the scratch directory is removed", () => {
    const roots = [{
      identity: publicIdentity(generateIdentity({ libraryPath })),
      endpoints: ["10.0.0.1/9993"],
    }];
    const cwd = Deno.makeTempDirSync({ prefix: "rxzt_tier2_cwd_" });
    const tmp = Deno.makeTempDirSync({ prefix: "rxzt_tier2_tmp_" });
    const decoyPrevious = new Uint8Array(128).fill(0x11);
    const decoyCurrent = new Uint8Array(128).fill(0x22);
    Deno.writeFileSync(`${cwd}/previous.c25519`, decoyPrevious);
    Deno.writeFileSync(`${cwd}/current.c25519`, decoyCurrent);
    const originalCwd = Deno.cwd();
    const originalTmp = Deno.env.get("TMPDIR");
    try {
      Deno.chdir(cwd);
      Deno.env.set("TMPDIR", tmp); // where rxzt makes its scratch directory
      const fresh = createRootSet({ roots, libraryPath });
      assert.notDeepEqual(
        fresh.signingKeys.previous,
        decoyPrevious,
        "read previous.c25519 from the cwd",
      );
      assert.notDeepEqual(
        fresh.signingKeys.current,
        decoyCurrent,
        "read current.c25519 from the cwd",
      );
      const given = { previous: randomKey(), current: randomKey() };
      const signed = createRootSet({ roots, signingKeys: given, libraryPath });
      assert.deepEqual(signed.signingKeys, given);
      assert.equal(Deno.cwd(), cwd, "cwd changed");
      assert.deepEqual(
        listDir(cwd),
        ["current.c25519", "previous.c25519"],
        "files appeared in the cwd",
      );
      assert.deepEqual(Deno.readFileSync(`${cwd}/previous.c25519`), decoyPrevious);
      assert.deepEqual(Deno.readFileSync(`${cwd}/current.c25519`), decoyCurrent);
      assert.deepEqual(listDir(tmp), [], "scratch directory left behind");
    } finally {
      Deno.chdir(originalCwd);
      if (originalTmp === undefined) Deno.env.delete("TMPDIR");
      else Deno.env.set("TMPDIR", originalTmp);
      Deno.removeSync(cwd, { recursive: true });
      Deno.removeSync(tmp, { recursive: true });
    }
    assert.equal(Deno.cwd(), originalCwd);
  });

  test("an empty cwd stays empty", () => {
    const cwd = Deno.makeTempDirSync({ prefix: "rxzt_tier2_cwd_" });
    const originalCwd = Deno.cwd();
    try {
      Deno.chdir(cwd);
      createRootSet({
        roots: [{
          identity: publicIdentity(generateIdentity({ libraryPath })),
          endpoints: ["10.0.0.1/9993"],
        }],
        libraryPath,
      });
      assert.equal(Deno.cwd(), cwd);
      assert.deepEqual(listDir(cwd), []);
    } finally {
      Deno.chdir(originalCwd);
      Deno.removeSync(cwd, { recursive: true });
    }
  });

  test("bad definitions are refused before libzt, naming the argument", () => {
    const pub = publicIdentity(generateIdentity({ libraryPath }));
    const ok = { identity: pub, endpoints: ["10.0.0.1/9993"] };
    const cases: [unknown, string][] = [
      [{ roots: [] }, "roots"],
      [{ roots: Array(17).fill(ok) }, "roots"],
      [{ roots: [null] }, "roots[0]"],
      [{ roots: [{ ...ok, identity: pub + ":" + "0".repeat(128) }] }, "roots[0].identity"],
      [{ roots: [ok, { ...ok, endpoints: [] }] }, "roots[1].endpoints"],
      [{ roots: [{ ...ok, endpoints: ["10.0.0.1:9993"] }] }, "roots[0].endpoints[0]"],
      [
        { roots: [{ ...ok, endpoints: ["10.0.0.1/9993", "example.com/9993"] }] },
        "roots[0].endpoints[1]",
      ],
      [{ roots: [{ ...ok, endpoints: ["10.0.0.1/0"] }] }, "roots[0].endpoints[0]"],
      [{ roots: [ok], worldId: 149604618n }, "worldId"],
      [{ roots: [ok], worldId: 5 }, "worldId"],
      [{ roots: [ok], timestamp: -1 }, "timestamp"],
      [
        {
          roots: [ok],
          signingKeys: { previous: new Uint8Array(64), current: new Uint8Array(128) },
        },
        "signingKeys.previous",
      ],
      [{ roots: [ok], signingKeys: { previous: new Uint8Array(128) } }, "signingKeys.current"],
    ];
    for (const [options, argument] of cases) {
      assert.throws(
        () => createRootSet({ ...(options as object), libraryPath } as never),
        (e) => e instanceof InvalidArgumentError && e.argument === argument,
        `expected InvalidArgumentError(${argument})`,
      );
    }
    assert.throws(
      () => createRootSet(null as never),
      (e) => e instanceof InvalidArgumentError && e.argument === "options",
    );
  });

  test("the child signs the same bytes as the old in-process way (chdir into the keys' directory)", () => {
    const lib = openDenoLibrary(libraryPath);
    const roots = [
      { identity: publicIdentity(generateIdentity({ libraryPath })), endpoints: ["10.0.0.1/9993"] },
      { identity: publicIdentity(generateIdentity({ libraryPath })), endpoints: ["fd00::7/9993"] },
    ];
    const keys = { previous: randomKey(), current: randomKey() };
    const worldId = 0xfeedn;
    const timestamp = 1_650_000_000_000;
    // The code path before issue 12: the keys in a directory, this process chdir'ed into it.
    const dir = Deno.makeTempDirSync({ prefix: "rxzt_tier2_old_" });
    const cwd = Deno.cwd();
    let old;
    try {
      Deno.writeFileSync(`${dir}/previous.c25519`, keys.previous);
      Deno.writeFileSync(`${dir}/current.c25519`, keys.current);
      Deno.chdir(dir);
      old = signRootSetHere(
        { addressOf: (b) => lib.addressOf(b), sign: lib.fn.zts_util_sign_root_set },
        roots,
        worldId,
        BigInt(timestamp),
      );
    } finally {
      Deno.chdir(cwd);
      Deno.removeSync(dir, { recursive: true });
    }
    assert.ok(typeof old !== "number");
    const set = createRootSet({ roots, worldId, timestamp, signingKeys: keys, libraryPath });
    assert.deepEqual(set.bytes, old.rootSet);
    assert.deepEqual(set.signingKeys.previous, old.previousKey);
    assert.deepEqual(set.signingKeys.current, old.currentKey);
  });

  test("libzt's refusal comes back from the child as its return code (ZTS_ERR_ARG as before)", () => {
    const lib = openDenoLibrary(libraryPath);
    const identity = publicIdentity(generateIdentity({ libraryPath }));
    const roots = [{ identity, endpoints: ["10.0.0.1/9993"] }];
    // Key files of the wrong size: the stand-in refuses them with ZTS_ERR_ARG (-3).
    const bad = { previous: new Uint8Array(5), current: new Uint8Array(5) };
    const rc = signRootSet(lib, roots, 1n, 1n, bad);
    assert.equal(rc, -3);
    // What createRootSet makes of it (src/roots.ts, unchanged by issue 12).
    assert.equal(LibztCallError.fromReturn("zts_util_sign_root_set", rc).code, "ZTS_ERR_ARG");
  });

  test("a child that cannot sign is an UnavailableError saying why, not a crash", () => {
    const lib = openDenoLibrary(libraryPath);
    const identity = publicIdentity(generateIdentity({ libraryPath }));
    const roots = [{ identity, endpoints: ["10.0.0.1/9993"] }];
    const missing = { ...lib, path: "/nonexistent/libzt.so" };
    assert.throws(
      () => signRootSet(missing, roots, 1n, 1n),
      (e) =>
        e instanceof UnavailableError && e.code === "UNAVAILABLE" && /nonexistent/.test(e.message),
    );
    assert.throws(
      () => readReply({ code: 1, stdout: "", stderr: "error: Module not found" }),
      (e) =>
        e instanceof UnavailableError && /exited with 1: error: Module not found/.test(e.message),
    );
    assert.throws(
      () => readReply({ code: null, stdout: "", stderr: "" }),
      (e) => e instanceof UnavailableError && /exited with a signal/.test(e.message),
    );
  });
});
