/**
 * Worker thread of rootset_test.ts (`node:worker_threads`, in Deno and Node).
 * Two modes, from `workerData`:
 *  - `write`: writes `marker-<n>` files by RELATIVE path, as fast as it can,
 *    until the parent sets `stop[0]`; `stop[1]` counts the files written. It
 *    stands for any code of the process that uses relative paths while
 *    createRootSet runs.
 *  - `sign`: calls createRootSet on this worker thread and posts the result
 *    (or the error's name, code and message).
 */
import { writeFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { createRootSet, type CreateRootSetOptions } from "rxzt";

type Data =
  | { mode: "write"; stop: SharedArrayBuffer }
  | { mode: "sign"; options: CreateRootSetOptions };

const data = workerData as Data;
const post = (m: unknown) => parentPort!.postMessage(m);

if (data.mode === "write") {
  const stop = new Int32Array(data.stop);
  let n = 0;
  while (Atomics.load(stop, 0) === 0) {
    writeFileSync(`marker-${n}`, String(n));
    Atomics.store(stop, 1, ++n);
    Atomics.notify(stop, 1);
  }
  post({ written: n });
} else {
  try {
    const set = createRootSet(data.options);
    post({
      ok: true,
      bytes: set.bytes,
      previous: set.signingKeys.previous,
      current: set.signingKeys.current,
    });
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string };
    post({ ok: false, name: e.name, code: e.code, message: e.message });
  }
}
