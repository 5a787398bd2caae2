/**
 * Tier 2 in both runtimes (Deno: `deno task test`, rxzt from mod.ts; Node:
 * `deno task test:npm`, the installed npm package through koffi): createRootSet
 * signs in a child process and never changes this process's working
 * directory (issue 12).
 *
 * What the stand-in's signature is (tests/native/zts_standin.c): u8 0x01, u64
 * id BE, u64 ts BE, then per root its public id and endpoints, each as a
 * u16-BE-length-prefixed string, and an empty string ending the root; it
 * depends on nothing else, so the same input gives the same bytes in any
 * process. The keys are the files previous.c25519/current.c25519 of the
 * working directory when both exist, else new (previous = current).
 */
import assert from "node:assert/strict";
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { describe, test } from "node:test";
import { Worker } from "node:worker_threads";
import { createRootSet, InvalidArgumentError } from "rxzt";
import { runtime, siblingScript, standinPath } from "./_runtime.ts";

const ROOT_A = "0123456789:0:" + "ab".repeat(64);
const ROOT_B = "abcdef0123:0:" + "cd".repeat(64);
const ROOTS = [
  { identity: ROOT_A, endpoints: ["10.99.0.1/9993", "fd00::1/443"] },
  { identity: ROOT_B, endpoints: ["192.0.2.7/21000"] },
];

/** The stand-in's blob for `roots`, `worldId` and `timestamp` (see above). */
function expectedBlob(
  roots: { identity: string; endpoints: string[] }[],
  worldId: bigint,
  timestamp: bigint,
): Uint8Array {
  const parts: number[] = [1];
  const u64 = (v: bigint) => {
    for (let i = 7; i >= 0; i--) {
      parts.push(Number((v >> BigInt(8 * i)) & 0xffn));
    }
  };
  const str = (s: string) => {
    const b = new TextEncoder().encode(s);
    parts.push(b.length >> 8, b.length & 0xff, ...b);
  };
  u64(worldId);
  u64(timestamp);
  for (const r of roots) {
    str(r.identity);
    r.endpoints.forEach(str);
    str("");
  }
  return new Uint8Array(parts);
}

function key(fill: number): Uint8Array {
  return new Uint8Array(128).fill(fill);
}

/** Runs `_rootset_worker` on a worker thread and resolves with its first message. */
function inWorker<T>(data: unknown): { worker: Worker; message: Promise<T> } {
  const worker = new Worker(siblingScript("_rootset_worker"), {
    workerData: data,
  });
  const message = new Promise<T>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  return { worker, message };
}

/** Runs `fn` with the process's working directory set to a fresh empty directory. */
async function inEmptyCwd<T>(fn: (cwd: string) => T | Promise<T>): Promise<T> {
  const cwd = realpathSync(mkdtempSync(join(tmpdir(), "rxzt_rootset_cwd_")));
  const original = process.cwd();
  process.chdir(cwd);
  try {
    return await fn(cwd);
  } finally {
    process.chdir(original);
    rmSync(cwd, { recursive: true, force: true });
  }
}

describe(`tier 2 under ${runtime}: createRootSet in a child process`, () => {
  test("the signed bytes are the stand-in's blob, the keys those given, the cwd unchanged", async () => {
    const libraryPath = standinPath();
    await inEmptyCwd((cwd) => {
      // Decoy keys in the cwd: libzt would sign with them if it ran here.
      writeFileSync("previous.c25519", key(0x11));
      writeFileSync("current.c25519", key(0x22));
      const signingKeys = { previous: key(0x33), current: key(0x44) };
      const set = createRootSet({
        roots: ROOTS,
        worldId: 0x0123456789abcdefn,
        timestamp: 1_700_000_123_456,
        signingKeys,
        libraryPath,
      });
      assert.deepEqual(
        set.bytes,
        expectedBlob(ROOTS, 0x0123456789abcdefn, 1_700_000_123_456n),
      );
      assert.deepEqual(set.signingKeys.previous, signingKeys.previous);
      assert.deepEqual(set.signingKeys.current, signingKeys.current);
      const fresh = createRootSet({ roots: ROOTS, libraryPath });
      assert.notDeepEqual(
        fresh.signingKeys.current,
        key(0x22),
        "signed with the cwd's keys",
      );
      assert.equal(process.cwd(), cwd);
      assert.deepEqual(readdirSync(cwd).sort(), [
        "current.c25519",
        "previous.c25519",
      ]);
      assert.deepEqual(
        new Uint8Array(readFileSync("current.c25519")),
        key(0x22),
      );
    });
  });

  test("relative files another thread writes during the calls land in the cwd, all of them", async () => {
    const libraryPath = standinPath();
    await inEmptyCwd(async (cwd) => {
      const stop = new Int32Array(new SharedArrayBuffer(8));
      const { message } = inWorker<{ written: number }>({
        mode: "write",
        stop: stop.buffer,
      });
      // Wait until the writer runs, then sign while it writes.
      while (Atomics.load(stop, 1) === 0) {
        await new Promise((r) => setTimeout(r, 5));
      }
      const before = Atomics.load(stop, 1);
      // At least 3 calls and 300 ms of them (the old in-process way took ~1 ms a call and lost
      // writes within that time).
      const started = performance.now();
      let calls = 0;
      while (calls < 3 || performance.now() - started < 300) {
        createRootSet({ roots: ROOTS, libraryPath });
        calls++;
        assert.equal(process.cwd(), cwd, "cwd changed");
      }
      const ms = (performance.now() - started) / calls;
      const during = Atomics.load(stop, 1) - before;
      Atomics.store(stop, 0, 1);
      const { written } = await message;
      assert.ok(during > 0, "the writer did not run during the calls");
      const names = new Set(readdirSync(cwd));
      const lost = Array.from({ length: written }, (_, n) => `marker-${n}`)
        .filter((f) => !names.has(f));
      assert.deepEqual(
        lost,
        [],
        `${lost.length} of ${written} relative writes went elsewhere`,
      );
      assert.equal(
        names.size,
        written,
        "files other than the markers appeared",
      );
      console.log(
        `createRootSet: ${ms.toFixed(1)} ms per call (${runtime}), ${during} writes meanwhile`,
      );
    });
  });

  test("it works on a worker thread and signs the same bytes as the main thread", async () => {
    const libraryPath = standinPath();
    const options = {
      roots: ROOTS,
      worldId: 77n,
      timestamp: 1234,
      signingKeys: { previous: key(1), current: key(2) },
      libraryPath,
    };
    const here = createRootSet(options);
    const { worker, message } = inWorker<
      {
        ok: boolean;
        bytes?: Uint8Array;
        current?: Uint8Array;
        name?: string;
        message?: string;
      }
    >({ mode: "sign", options });
    try {
      const there = await message;
      assert.equal(there.ok, true, `${there.name}: ${there.message}`);
      assert.deepEqual(new Uint8Array(there.bytes!), here.bytes);
      assert.deepEqual(new Uint8Array(there.current!), key(2));
    } finally {
      await worker.terminate();
    }
  });

  test("bad definitions are still refused before any child, naming the argument", () => {
    const libraryPath = standinPath();
    const cases: [unknown, string][] = [
      [{ roots: [] }, "roots"],
      [
        { roots: [{ identity: ROOT_A, endpoints: ["10.0.0.1:9993"] }] },
        "roots[0].endpoints[0]",
      ],
      [
        { roots: [{ identity: ROOT_A + ":00", endpoints: ["10.0.0.1/9993"] }] },
        "roots[0].identity",
      ],
      [{ roots: ROOTS, worldId: 149604618n }, "worldId"],
      [
        {
          roots: ROOTS,
          signingKeys: { previous: key(1), current: new Uint8Array(3) },
        },
        "signingKeys.current",
      ],
    ];
    for (const [options, argument] of cases) {
      assert.throws(
        () => createRootSet({ ...(options as object), libraryPath } as never),
        (e) =>
          e instanceof InvalidArgumentError && e.argument === argument &&
          e.code === "EINVAL",
        argument,
      );
    }
  });
});
