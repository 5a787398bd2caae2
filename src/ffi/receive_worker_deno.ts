/**
 * The I/O thread's entry point under Deno: a module `Worker` that opens the
 * process's libzt again (`Deno.dlopen` of the same path gives the same
 * library instance, so lwIP's sockets are shared) with its calls bound to
 * block this thread, and runs the receive loop until told to stop.
 *
 * @module
 */
import { runReceiveLoop } from "../streams/receive_loop.ts";
import type { ReceiveWorkerInit } from "./backend.ts";
import { receiveCallsOver } from "./receive_calls.ts";

interface WorkerScope {
  onmessage: ((event: MessageEvent<ReceiveWorkerInit>) => void) | null;
  postMessage(message: unknown): void;
}
const scope = globalThis as unknown as WorkerScope;

scope.onmessage = (event) => {
  scope.onmessage = null;
  const { path, control, tuning } = event.data;
  try {
    const defs = {
      zts_bsd_poll: { parameters: ["buffer", "u32", "i32"], result: "i32" },
      zts_bsd_recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
      zts_bsd_socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
      zts_bsd_close: { parameters: ["i32"], result: "i32" },
    } as const;
    const lib = Deno.dlopen(path, defs);
    const errno = Deno.dlopen(
      path,
      { zts_errno: { type: "pointer" } } as unknown as Record<string, Deno.ForeignFunction>,
    );
    const errnoPtr = (errno.symbols as unknown as { zts_errno: Deno.PointerValue }).zts_errno;
    const errnoView = errnoPtr ? new Deno.UnsafePointerView(errnoPtr) : undefined;
    const f = lib.symbols;
    const calls = receiveCallsOver({
      poll: (fds, n, timeout) => f.zts_bsd_poll(fds as Uint8Array<ArrayBuffer>, n, timeout),
      recv: (fd, into) =>
        Number(f.zts_bsd_recv(fd, into as Uint8Array<ArrayBuffer>, BigInt(into.byteLength), 0)),
      socket: (family, type) => f.zts_bsd_socket(family, type, 0),
      close: (fd) => f.zts_bsd_close(fd),
      errno: () => errnoView?.getInt32() ?? 0,
    });
    runReceiveLoop(new Int32Array(control), calls, (m) => scope.postMessage(m), tuning);
    errno.close();
    lib.close();
  } catch (err) {
    scope.postMessage({
      kind: "failed",
      message: err instanceof Error ? err.message : String(err),
    });
  }
};
