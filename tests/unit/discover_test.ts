/**
 * Tier 1: finding libzt (`src/ffi/discover.ts`) on a fake host.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { HostInfo } from "../../src/ffi/backend.ts";
import { defaultLocations, findLibrary, libraryFileName } from "../../src/ffi/discover.ts";
import { LibraryNotFoundError, PermissionError, ZeroTierError } from "../../src/errors.ts";

/** A host with the given files and environment that records what was asked. */
function fakeHost(os: string, files: string[], env: Record<string, string> = {}) {
  const existing = new Set(files);
  const checked: string[] = [];
  const envRead: string[] = [];
  const host: HostInfo = {
    os,
    env(name) {
      envRead.push(name);
      return env[name];
    },
    isFile(path) {
      checked.push(path);
      return existing.has(path);
    },
  };
  return { host, checked, envRead };
}

function notFound(fn: () => unknown, check: (err: LibraryNotFoundError) => void): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof LibraryNotFoundError, `not a LibraryNotFoundError: ${err}`);
    assert.ok(err instanceof ZeroTierError);
    assert.equal(err.code, "LIBZT_NOT_FOUND");
    check(err);
    return true;
  });
}

describe("libraryFileName / defaultLocations", () => {
  test("file name per platform", () => {
    assert.equal(libraryFileName("linux"), "libzt.so");
    assert.equal(libraryFileName("darwin"), "libzt.dylib");
    assert.equal(libraryFileName("windows"), "libzt.dll");
  });

  test("default locations are absolute paths to the platform's file name", () => {
    for (const os of ["linux", "darwin"]) {
      const locations = defaultLocations(os);
      assert.ok(locations.length > 0, os);
      assert.equal(new Set(locations).size, locations.length, `${os}: no duplicates`);
      for (const p of locations) {
        assert.ok(p.startsWith("/"), p);
        assert.ok(p.endsWith(`/${libraryFileName(os)}`), p);
      }
      assert.ok(locations.includes(`/usr/local/lib/${libraryFileName(os)}`), os);
    }
    assert.ok(defaultLocations("darwin").includes("/opt/homebrew/lib/libzt.dylib"));
  });
});

describe("findLibrary", () => {
  test("an explicit path wins over LIBZT_PATH and the defaults", () => {
    const all = defaultLocations("linux");
    const { host } = fakeHost("linux", ["/opt/zt/libzt.so", "/env/libzt.so", ...all], {
      LIBZT_PATH: "/env/libzt.so",
    });
    assert.equal(findLibrary(host, "/opt/zt/libzt.so"), "/opt/zt/libzt.so");
  });

  test("an explicit path that does not exist is an error, with no fallback", () => {
    const all = defaultLocations("linux");
    const { host, checked } = fakeHost("linux", ["/env/libzt.so", ...all], {
      LIBZT_PATH: "/env/libzt.so",
    });
    notFound(() => findLibrary(host, "/missing/libzt.so"), (err) => {
      assert.deepEqual(err.searched, ["/missing/libzt.so"]);
      assert.ok(err.message.includes("/missing/libzt.so"));
    });
    assert.deepEqual(checked, ["/missing/libzt.so"], "nothing else was tried");
  });

  test("LIBZT_PATH wins over the defaults", () => {
    const all = defaultLocations("linux");
    const { host } = fakeHost("linux", ["/env/libzt.so", ...all], { LIBZT_PATH: "/env/libzt.so" });
    assert.equal(findLibrary(host), "/env/libzt.so");
  });

  test("a LIBZT_PATH that does not exist is an error, with no fallback", () => {
    const all = defaultLocations("linux");
    const { host, checked } = fakeHost("linux", all, { LIBZT_PATH: "/env/nope.so" });
    notFound(() => findLibrary(host), (err) => {
      assert.deepEqual(err.searched, ["/env/nope.so"]);
      assert.ok(err.message.includes("/env/nope.so"));
      assert.ok(err.message.includes("LIBZT_PATH"));
    });
    assert.deepEqual(checked, ["/env/nope.so"]);
  });

  test("an empty LIBZT_PATH counts as unset", () => {
    const first = defaultLocations("linux")[0];
    const { host } = fakeHost("linux", [first], { LIBZT_PATH: "" });
    assert.equal(findLibrary(host), first);
  });

  for (const os of ["linux", "darwin"]) {
    test(`${os}: default locations are tried in order; the first existing one wins`, () => {
      const locations = defaultLocations(os);
      for (let k = 0; k < locations.length; k++) {
        // Every location from k on exists: k must be chosen, after trying 0..k in order.
        const { host, checked, envRead } = fakeHost(os, locations.slice(k));
        assert.equal(findLibrary(host), locations[k]);
        assert.deepEqual(checked, locations.slice(0, k + 1));
        assert.ok(envRead.includes("LIBZT_PATH"));
      }
    });

    test(`${os}: nothing found lists every searched path and mentions LIBZT_PATH`, () => {
      const { host, checked } = fakeHost(os, ["/somewhere/else/libzt.so"]);
      notFound(() => findLibrary(host), (err) => {
        assert.deepEqual(err.searched, defaultLocations(os));
        for (const p of err.searched) assert.ok(err.message.includes(p), `message lists ${p}`);
        assert.ok(err.message.includes("LIBZT_PATH"));
      });
      assert.deepEqual(checked, defaultLocations(os));
    });
  }

  test("a platform without default locations fails and points at LIBZT_PATH", () => {
    const { host } = fakeHost("windows", []);
    notFound(() => findLibrary(host), (err) => {
      assert.deepEqual(err.searched, defaultLocations("windows"));
      assert.ok(err.message.includes("LIBZT_PATH"));
    });
  });
});

describe("findLibrary when the runtime refuses a check (Deno permissions)", () => {
  /** A host that refuses to read the environment and/or to look at some paths. */
  function refusingHost(opts: { env?: boolean; unreadable?: string[]; files?: string[] }) {
    const files = new Set(opts.files ?? []);
    const host: HostInfo = {
      os: "linux",
      env(name) {
        if (opts.env) throw new PermissionError([`--allow-env=${name}`], "no env");
        return undefined;
      },
      isFile(path) {
        if (opts.unreadable?.includes(path)) {
          throw new PermissionError([`--allow-read=${path}`], "no read");
        }
        return files.has(path);
      },
    };
    return host;
  }

  test("LIBZT_PATH unreadable but libzt at a usual location: found, no --allow-env needed", () => {
    const first = defaultLocations("linux")[0];
    assert.equal(findLibrary(refusingHost({ env: true, files: [first] })), first);
  });

  test("LIBZT_PATH unreadable and nothing found: a PermissionError naming --allow-env", () => {
    assert.throws(() => findLibrary(refusingHost({ env: true })), (err: unknown) => {
      assert.ok(err instanceof PermissionError);
      assert.equal(err.code, "PERMISSION_DENIED");
      assert.deepEqual(err.permissions, ["--allow-env=LIBZT_PATH"]);
      assert.match(err.message, /--allow-env=LIBZT_PATH/);
      return true;
    });
  });

  test("usual locations unreadable: a PermissionError naming --allow-read", () => {
    const host = refusingHost({ unreadable: defaultLocations("linux") });
    assert.throws(() => findLibrary(host), (err: unknown) => {
      assert.ok(err instanceof PermissionError);
      assert.deepEqual(err.permissions, ["--allow-read"]);
      return true;
    });
  });

  test("an explicit path that cannot be checked: its own PermissionError propagates", () => {
    const host = refusingHost({ unreadable: ["/x/libzt.so"] });
    assert.throws(() => findLibrary(host, "/x/libzt.so"), (err: unknown) => {
      assert.ok(err instanceof PermissionError);
      assert.deepEqual(err.permissions, ["--allow-read=/x/libzt.so"]);
      return true;
    });
  });
});
