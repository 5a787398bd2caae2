/**
 * Tier 1: typed errors (`src/errors.ts`).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { constants } from "node:os";
import process from "node:process";
import {
  InvalidArgumentError,
  LibraryLoadError,
  LibraryNotFoundError,
  LibztCallError,
  NetworkError,
  NodeStateError,
  TimeoutError,
  UnavailableError,
  ZeroTierError,
  ZTS_ERRNO_NAMES,
  ZTS_RETURN_CODES,
} from "../../src/errors.ts";

/** `ZTS_ERR_*` from ZeroTierSockets.h. */
const LIBZT_RETURN_CODES: Record<number, string> = {
  0: "ZTS_ERR_OK",
  [-1]: "ZTS_ERR_SOCKET",
  [-2]: "ZTS_ERR_SERVICE",
  [-3]: "ZTS_ERR_ARG",
  [-4]: "ZTS_ERR_NO_RESULT",
  [-5]: "ZTS_ERR_GENERAL",
};

describe("ZTS_RETURN_CODES / ZTS_ERRNO_NAMES", () => {
  test("return codes are libzt's ZTS_ERR_* values", () => {
    assert.deepEqual({ ...ZTS_RETURN_CODES }, LIBZT_RETURN_CODES);
  });

  test(
    "errno values follow the Linux numbering lwIP uses",
    { skip: process.platform !== "linux" },
    () => {
      // Node's table lacks a few Linux names; those are restated from <errno.h>.
      const linux: Record<string, number> = {
        ESOCKTNOSUPPORT: 94,
        EPFNOSUPPORT: 96,
        ...constants.errno,
      };
      for (const [value, name] of Object.entries(ZTS_ERRNO_NAMES)) {
        assert.equal(linux[name], Number(value), name);
      }
    },
  );

  test("errno names are unique", () => {
    const names = Object.values(ZTS_ERRNO_NAMES);
    assert.equal(new Set(names).size, names.length);
  });
});

describe("LibztCallError", () => {
  test("maps every libzt return code to its name", () => {
    for (const [rc, name] of Object.entries(LIBZT_RETURN_CODES)) {
      const err = LibztCallError.fromReturn("zts_net_join", Number(rc));
      assert.equal(err.code, name);
      assert.equal(err.returnCode, Number(rc));
      assert.equal(err.errno, 0);
      assert.equal(err.function, "zts_net_join");
      assert.ok(err.message.includes("zts_net_join"));
      assert.ok(err.message.includes(name));
    }
  });

  test("-2 is ZTS_ERR_SERVICE", () => {
    const err = LibztCallError.fromReturn("zts_node_start", -2);
    assert.equal(err.code, "ZTS_ERR_SERVICE");
    assert.ok(err instanceof LibztCallError);
    assert.ok(err instanceof ZeroTierError);
    assert.ok(err instanceof Error);
    assert.equal(err.name, "LibztCallError");
  });

  test("a known errno names the error; the return code is kept", () => {
    const err = LibztCallError.fromReturn("zts_bsd_connect", -1, 111);
    assert.equal(err.code, "ECONNREFUSED");
    assert.equal(err.returnCode, -1);
    assert.equal(err.errno, 111);
    assert.ok(err.message.includes("ECONNREFUSED"));
    assert.ok(err.message.includes("ZTS_ERR_SOCKET"));
    for (const [errno, name] of Object.entries(ZTS_ERRNO_NAMES)) {
      assert.equal(new LibztCallError("zts_bsd_recv", -1, Number(errno)).code, name);
    }
  });

  test("an unknown errno falls back to the return-code name and is shown in the message", () => {
    const err = new LibztCallError("zts_bsd_send", -1, 9999);
    assert.equal(err.code, "ZTS_ERR_SOCKET");
    assert.ok(err.message.includes("9999"));
  });

  test("an unknown return code still gives a string code and names the value", () => {
    const err = LibztCallError.fromReturn("zts_x", -99);
    assert.equal(typeof err.code, "string");
    assert.ok(err.code.length > 0);
    assert.ok(err.message.includes("-99"));
  });

  test("the hint and the cause are kept", () => {
    const cause = new Error("inner");
    const err = new LibztCallError("zts_net_join", -2, 0, "Is the node online?", { cause });
    assert.ok(err.message.includes("Is the node online?"));
    assert.equal(err.cause, cause);
    assert.ok(LibztCallError.fromReturn("f", -3, 0, "hint here").message.includes("hint here"));
  });
});

describe("every error is a ZeroTierError with a code", () => {
  const cases: [string, ZeroTierError, string][] = [
    ["ZeroTierError", new ZeroTierError("X_CODE", "msg"), "X_CODE"],
    [
      "LibraryNotFoundError",
      new LibraryNotFoundError(["/a/libzt.so", "/b/libzt.so"], "not found"),
      "LIBZT_NOT_FOUND",
    ],
    [
      "LibraryLoadError",
      new LibraryLoadError("LIBZT_MISSING_SYMBOLS", "/x/libzt.so", "lacks", ["zts_node_start"]),
      "LIBZT_MISSING_SYMBOLS",
    ],
    ["LibztCallError", LibztCallError.fromReturn("zts_net_join", -3), "ZTS_ERR_ARG"],
    [
      "InvalidArgumentError",
      new InvalidArgumentError("port", "must be an integer", 70000),
      "EINVAL",
    ],
    ["NodeStateError", new NodeStateError("NODE_STOPPED", "stopped"), "NODE_STOPPED"],
    [
      "NetworkError",
      new NetworkError("NETWORK_NOT_FOUND", "ff00160016000000", "unknown"),
      "NETWORK_NOT_FOUND",
    ],
    ["TimeoutError", new TimeoutError("join", 10), "ETIMEDOUT"],
    ["UnavailableError", new UnavailableError("stats", "rebuild"), "UNAVAILABLE"],
  ];
  for (const [name, err, code] of cases) {
    test(name, () => {
      assert.ok(err instanceof ZeroTierError);
      assert.ok(err instanceof Error);
      assert.equal(err.code, code);
      assert.equal(err.name, name);
      assert.equal(typeof err.message, "string");
      assert.ok(err.message.length > 0);
      assert.equal(typeof err.stack, "string");
    });
  }

  test("subclass fields", () => {
    const nf = new LibraryNotFoundError(["/a", "/b"], "m");
    assert.deepEqual(nf.searched, ["/a", "/b"]);
    const le = new LibraryLoadError("LIBZT_LOAD_FAILED", "/x/libzt.so", "bad ELF");
    assert.equal(le.code, "LIBZT_LOAD_FAILED");
    assert.equal(le.path, "/x/libzt.so");
    assert.deepEqual(le.missing, []);
    const ne = new NetworkError("NETWORK_ACCESS_DENIED", "8056c2e21c000001", "not authorized");
    assert.equal(ne.networkId, "8056c2e21c000001");
    assert.ok(ne.message.includes("8056c2e21c000001"));
    const te = new TimeoutError("joining network x", 2500);
    assert.equal(te.timeoutMs, 2500);
    assert.ok(te.message.includes("joining network x"));
    assert.ok(te.message.includes("2500"));
    const ia = new InvalidArgumentError("startPort", "must be an integer from 0 to 65535", 70000);
    assert.equal(ia.argument, "startPort");
    assert.ok(ia.message.includes("startPort"));
    assert.ok(ia.message.includes("70000"));
  });

  test("InvalidArgumentError describes received values without throwing", () => {
    const values: unknown[] = [
      undefined,
      null,
      1,
      1n,
      "x".repeat(100),
      Symbol("s"),
      [],
      {},
      Object.create(null),
      new Map(),
      () => 1,
    ];
    for (const v of values) {
      const err = new InvalidArgumentError("arg", "rule", v);
      assert.ok(err.message.startsWith("Invalid arg: rule"), err.message);
      assert.ok(err.message.length < 200, "long strings are shortened");
    }
  });

  test("the cause option is attached only when given", () => {
    const cause = new Error("root");
    assert.equal(new ZeroTierError("A", "m", { cause }).cause, cause);
    assert.equal("cause" in new ZeroTierError("A", "m"), false);
  });
});

describe("LibraryLoadError.missingSymbols", () => {
  test("a library without zts_bsd_* is named a libzt too old for rxzt (1.8 or newer)", () => {
    const err = LibraryLoadError.missingSymbols("/old/libzt.so", ["zts_bsd_socket", "zts_util_x"]);
    assert.equal(err.code, "LIBZT_MISSING_SYMBOLS");
    assert.match(err.message, /too old for rxzt, which needs libzt 1\.8 or newer/);
    assert.match(err.message, /zts_bsd_socket, zts_util_x/);
    assert.match(err.message, /zerotier\/tap/);
  });

  test("other missing functions are listed without a version verdict", () => {
    const err = LibraryLoadError.missingSymbols("/x/libzt.so", ["zts_node_stop"]);
    assert.doesNotMatch(err.message, /too old/);
    assert.match(err.message, /lacks zts_node_stop/);
  });
});
