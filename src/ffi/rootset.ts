/**
 * Building the `zts_root_set_t` spec and calling `zts_util_sign_root_set`.
 *
 * libzt reads the signing keys from `previous.c25519`/`current.c25519` in the
 * working directory and writes new ones there, and a process has one working
 * directory for all its threads. So rxzt signs in a child process of the same
 * runtime ({@link signRootSet}): the child starts in a private scratch
 * directory holding the keys given, opens the same libzt, signs
 * ({@link signRootSetHere}) and prints the result. This process's working
 * directory never changes, so other threads (Workers, libzt's, Node's
 * threadpool) and Node worker threads are unaffected.
 *
 * The request goes to the child as a command-line argument (roots, world id,
 * timestamp and the library's path: all public; `Deno.Command`'s synchronous
 * `outputSync` cannot feed stdin), the keys as files in the scratch directory
 * (where libzt reads them), and the reply comes back as one JSON line on
 * stdout with the bytes in base64.
 *
 * @module
 */
import { UnavailableError } from "../errors.ts";
import type { ChildOutput, NativeLibrary } from "./backend.ts";
import { nulTerminated } from "./cstring.ts";
import { ROOT_SET, ROOT_SET_BUF_LEN, SIGNING_KEY_LEN } from "./layout.ts";
import type { BoundSymbols } from "./symbols.ts";

/** A root for the spec: its public identity and its endpoints as `ip/port`. */
export interface RootSpec {
  readonly identity: string;
  readonly endpoints: readonly string[];
}

/** Output of a successful signing. */
export interface SignedRootSet {
  readonly rootSet: Uint8Array;
  readonly previousKey: Uint8Array;
  readonly currentKey: Uint8Array;
}

/** What the child needs of libzt: the signing function and buffer addresses. */
export interface RootSetSigner {
  /** Address of a buffer, for the pointers in `zts_root_set_t`. */
  addressOf(buffer: Uint8Array): bigint;
  /** `zts_util_sign_root_set`, bound. */
  sign: BoundSymbols["zts_util_sign_root_set"];
}

/** The child's request (its command-line argument, JSON). */
export interface SignRequest {
  /** The libzt this process loaded: the child opens the same file. */
  readonly libraryPath: string;
  readonly roots: readonly RootSpec[];
  /** Decimal (JSON has no bigint). */
  readonly worldId: string;
  /** Decimal, ms. */
  readonly timestamp: string;
}

/** The child's reply (its last line of stdout, JSON; bytes in base64). */
export type SignReply =
  | {
    readonly ok: true;
    readonly rootSet: string;
    readonly previousKey: string;
    readonly currentKey: string;
  }
  | { readonly ok: false; readonly returnCode: number }
  | { readonly ok: false; readonly error: string };

/**
 * Signs a root set in the working directory of this process: libzt reads
 * `previous.c25519`/`current.c25519` there when both exist (else it makes a
 * new key pair) and writes the keys it used. Only the signing child calls
 * this (its working directory is the scratch directory). Returns the
 * negative libzt code on failure.
 */
export function signRootSetHere(
  signer: RootSetSigner,
  roots: readonly RootSpec[],
  worldId: bigint,
  timestamp: bigint,
): SignedRootSet | number {
  const spec = new Uint8Array(ROOT_SET.size);
  const view = new DataView(spec.buffer);
  const keep: Uint8Array[] = []; // the strings must outlive the call
  const put = (offset: number, text: string) => {
    const bytes = nulTerminated(text);
    keep.push(bytes);
    view.setBigUint64(offset, signer.addressOf(bytes), true);
  };
  roots.forEach((root, i) => {
    put(ROOT_SET.publicIds + i * 8, root.identity);
    root.endpoints.forEach((endpoint, j) => {
      put(ROOT_SET.endpoints + (i * ROOT_SET.maxEndpointsPerRoot + j) * 8, endpoint);
    });
  });
  const out = new Uint8Array(ROOT_SET_BUF_LEN);
  const outLen = new Uint32Array([ROOT_SET_BUF_LEN]);
  const prev = new Uint8Array(SIGNING_KEY_LEN);
  const prevLen = new Uint32Array([SIGNING_KEY_LEN]);
  const curr = new Uint8Array(SIGNING_KEY_LEN);
  const currLen = new Uint32Array([SIGNING_KEY_LEN]);
  const rc = signer.sign(out, outLen, prev, prevLen, curr, currLen, worldId, timestamp, spec);
  keep.length = 0;
  if (rc < 0) return rc;
  return {
    rootSet: out.slice(0, outLen[0]),
    previousKey: prev.slice(0, prevLen[0]),
    currentKey: curr.slice(0, currLen[0]),
  };
}

/** Base64 of `bytes` (btoa: the same in Deno and Node). */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Bytes of base64 `text`. */
export function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

/**
 * The child's work: parses `request` (its argument), opens libzt with
 * `open`, signs in the working directory and returns the reply line.
 */
export function answerSignRequest(
  request: string | undefined,
  open: (libraryPath: string) => RootSetSigner,
): string {
  let reply: SignReply;
  try {
    const r = JSON.parse(request ?? "") as SignRequest;
    const result = signRootSetHere(
      open(r.libraryPath),
      r.roots,
      BigInt(r.worldId),
      BigInt(r.timestamp),
    );
    reply = typeof result === "number" ? { ok: false, returnCode: result } : {
      ok: true,
      rootSet: toBase64(result.rootSet),
      previousKey: toBase64(result.previousKey),
      currentKey: toBase64(result.currentKey),
    };
  } catch (err) {
    reply = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  return JSON.stringify(reply);
}

/**
 * Signs a root set in a child process (see the module's docs) with the
 * libzt `lib` was loaded from, with exactly the keys given (none: libzt
 * makes a new pair). Returns the negative libzt code on failure.
 *
 * @throws {PermissionError} when the runtime may not start the child (Deno: `--allow-run`).
 * @throws {UnavailableError} when the child fails without a libzt result.
 */
export function signRootSet(
  lib: NativeLibrary,
  roots: readonly RootSpec[],
  worldId: bigint,
  timestamp: bigint,
  keys?: { previous: Uint8Array; current: Uint8Array },
): SignedRootSet | number {
  const request: SignRequest = {
    libraryPath: lib.path,
    roots: roots.map((r) => ({ identity: r.identity, endpoints: [...r.endpoints] })),
    worldId: worldId.toString(),
    timestamp: timestamp.toString(),
  };
  const files: Record<string, Uint8Array> = keys
    ? { "previous.c25519": keys.previous, "current.c25519": keys.current }
    : {};
  const child = lib.inScratchDirectory(
    files,
    (dir) => lib.runRootSetSigner(dir, JSON.stringify(request)),
  );
  return readReply(child);
}

/** The child's result from its output, or the error that says why there is none. */
export function readReply(child: ChildOutput): SignedRootSet | number {
  let reply: SignReply | undefined;
  try {
    reply = JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "") as SignReply;
  } catch { /* no reply: reported below */ }
  if (reply && child.code === 0) {
    if (reply.ok) {
      return {
        rootSet: fromBase64(reply.rootSet),
        previousKey: fromBase64(reply.previousKey),
        currentKey: fromBase64(reply.currentKey),
      };
    }
    if ("returnCode" in reply) return reply.returnCode;
  }
  const detail = reply && !reply.ok && "error" in reply
    ? reply.error
    : `it exited with ${child.code ?? "a signal"}${
      child.stderr.trim() ? `: ${child.stderr.trim().slice(-1000)}` : ""
    }`;
  throw new UnavailableError(
    "createRootSet's signing process",
    `${detail} (rxzt signs root sets in a child process of this runtime, which runs ` +
      "rxzt's rootset_child script)",
  );
}
