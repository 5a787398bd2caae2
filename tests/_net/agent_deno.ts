/**
 * What only the Deno agent can do (loaded by `agent.ts` under Deno): read
 * rxzt's internals (the I/O thread's counters and state, from its sources)
 * and make raw libzt calls with `Deno.dlopen`.
 */
import type { ZeroTierNode } from "rxzt";
import { nodeInternals } from "../../src/node/internals.ts";

/** The I/O thread's counters so far (absent without one). */
export function receiveCounters(node: ZeroTierNode): Record<string, number> | undefined {
  return nodeInternals(node).receiveCounters as Record<string, number> | undefined;
}

/** The I/O thread's control block and rings now (for diagnosing a stuck benchmark). */
export function receiveState(node: ZeroTierNode): unknown {
  return nodeInternals(node).receiveState;
}

/** A raw libzt TCP connect attempt, to make packets flow toward a peer. */
export async function probe(
  node: ZeroTierNode,
  address: string,
  port: number,
  timeoutMs: number,
): Promise<{ rc: number; errno: number }> {
  const lib = Deno.dlopen(node.libraryPath, {
    zts_socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
    zts_connect: { parameters: ["i32", "buffer", "u16", "i32"], result: "i32", nonblocking: true },
    zts_close: { parameters: ["i32"], result: "i32" },
    zts_errno: { type: "pointer" },
  } as unknown as Record<string, Deno.ForeignFunction>) as unknown as Deno.DynamicLibrary<{
    zts_socket: { parameters: ["i32", "i32", "i32"]; result: "i32" };
    zts_connect: { parameters: ["i32", "buffer", "u16", "i32"]; result: "i32"; nonblocking: true };
    zts_close: { parameters: ["i32"]; result: "i32" };
  }>;
  const errnoPtr = (lib.symbols as unknown as { zts_errno: Deno.PointerValue }).zts_errno;
  const family = address.includes(":") ? 10 : 2;
  const fd = lib.symbols.zts_socket(family, 1, 0);
  const ip = new TextEncoder().encode(address + "\0");
  const rc = await lib.symbols.zts_connect(fd, ip, port, timeoutMs);
  const errno = errnoPtr ? new Deno.UnsafePointerView(errnoPtr).getInt32() : 0;
  lib.symbols.zts_close(fd);
  return { rc, errno };
}
