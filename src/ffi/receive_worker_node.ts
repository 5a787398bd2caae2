/**
 * The I/O thread's entry point under Node: a `worker_threads` Worker that
 * opens the process's libzt again through koffi (the same library instance,
 * so lwIP's sockets are shared) with its calls bound to block this thread,
 * and runs the receive loop until told to stop.
 *
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";
import koffi from "koffi";
import { runReceiveLoop } from "../streams/receive_loop.ts";
import type { ReceiveWorkerInit } from "./backend.ts";
import { receiveCallsOver } from "./receive_calls.ts";

const { path, control, tuning } = workerData as ReceiveWorkerInit;
const post = (m: unknown) => parentPort!.postMessage(m);
try {
  const lib = koffi.load(path);
  const poll = lib.func("zts_bsd_poll", "int32_t", ["void *", "uint32_t", "int32_t"]);
  const recv = lib.func("zts_bsd_recv", "intptr_t", ["int32_t", "void *", "size_t", "int32_t"]);
  const socket = lib.func("zts_bsd_socket", "int32_t", ["int32_t", "int32_t", "int32_t"]);
  const close = lib.func("zts_bsd_close", "int32_t", ["int32_t"]);
  const errnoPtr = lib.symbol("zts_errno") as bigint;
  const errno = new Int32Array(koffi.view(errnoPtr, 4));
  const calls = receiveCallsOver({
    poll: (fds, n, timeout) => poll(fds, n, timeout) as number,
    recv: (fd, into) => Number(recv(fd, into, into.byteLength, 0)),
    socket: (family, type) => socket(family, type, 0) as number,
    close: (fd) => close(fd) as number,
    errno: () => errno[0],
  });
  runReceiveLoop(new Int32Array(control), calls, post, tuning);
} catch (err) {
  post({ kind: "failed", message: err instanceof Error ? err.message : String(err) });
}
