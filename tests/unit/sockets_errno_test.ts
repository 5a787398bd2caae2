/**
 * zts_errno is one global that lwIP also sets, to 0 on success, in calls on
 * other threads (rxzt's polls run on worker threads). A data call that failed
 * while its errno reads 0 must be retried, not reported as a failure with no
 * reason.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { NativeLibrary } from "../../src/ffi/backend.ts";
import { ERRNO } from "../../src/ffi/codes.ts";
import { SocketCalls } from "../../src/ffi/sockets.ts";

/** A fake library whose data calls return `rc` and whose errno reads `errno`. */
function fakeLibrary(rc: number, errno: number): NativeLibrary {
  const ret = () => rc;
  return {
    errno: () => errno,
    fn: new Proxy({}, { get: () => ret }),
  } as unknown as NativeLibrary;
}

const buf = new Uint8Array(16);
const addr = new Uint8Array(16);

test("a failed recv/send/recvfrom/sendto/accept/close whose errno was overwritten with 0 reads as EAGAIN", () => {
  const calls = new SocketCalls(fakeLibrary(-1, 0));
  for (
    const [name, o] of Object.entries({
      recv: calls.recv(3, buf),
      send: calls.send(3, buf),
      recvfrom: calls.recvfrom(3, buf),
      sendto: calls.sendto(3, buf, addr),
      accept: calls.accept(3),
      close: calls.close(3), // a close that must linger (see src/streams/host.ts)
    })
  ) {
    assert.equal(o.ok, false, name);
    assert.equal(!o.ok && o.errno, ERRNO.EAGAIN, name);
  }
});

test("a real errno is kept, and libzt's own error codes (rc below -1) carry no errno", () => {
  const reset = new SocketCalls(fakeLibrary(-1, ERRNO.ECONNRESET)).recv(3, buf);
  assert.deepEqual(reset, { ok: false, rc: -1, errno: ERRNO.ECONNRESET });
  const service = new SocketCalls(fakeLibrary(-2, 0)).send(3, buf);
  assert.deepEqual(service, { ok: false, rc: -2, errno: 0 });
});

test("calls that are not data calls keep errno 0 as it is", () => {
  const o = new SocketCalls(fakeLibrary(-1, 0)).connect(3, addr);
  assert.deepEqual(o, { ok: false, rc: -1, errno: 0 });
});
