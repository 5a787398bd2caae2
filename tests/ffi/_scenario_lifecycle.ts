/**
 * Tier-2 scenarios that need a fresh process (run by lifecycle_test.ts):
 * libzt allows one node per process and cannot restart it. Prints one JSON
 * object on stdout and then returns WITHOUT Deno.exit: the process must end
 * by itself once the node is stopped.
 *
 * Usage: deno run -A _scenario_lifecycle.ts <mode> <libraryPath> [storagePath]
 *   exit     start (with storagePath), go online, join, stop; leaves subscriptions open
 *   restart  start, stop, start again
 *   running  start, start again while running, then stop
 *   aborted  start with an already-aborted signal, then start normally
 */
import { adhocNetworkId, sixPlaneAddress, ZeroTierNode } from "../../mod.ts";
import { reportError } from "./_helpers.ts";

const [mode, libraryPath, storagePath] = Deno.args;
const out: Record<string, unknown> = { mode };

async function attempt(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, error: reportError(err) };
  }
}

try {
  if (mode === "exit") {
    const node = await ZeroTierNode.start({ libraryPath, storagePath, timeout: 5000 });
    // Subscriptions the app never ends: stop() must still let the process exit.
    let completions = 0;
    const done = { complete: () => completions++ };
    node.events$.subscribe(done);
    node.online$.subscribe(done);
    node.networks$.subscribe(done);
    node.peers$.subscribe(done);
    node.peer$().subscribe(done);
    await node.waitUntilOnline({ timeout: 3000 });
    const net = adhocNetworkId(7000, 7001);
    const state = await node.join(net, { family: "IPv6", timeout: 3000 });
    out.nodeId = node.nodeId;
    out.joinedExpectedAddress = state.assignedAddresses.some((a) =>
      a.address === sixPlaneAddress(net, node.nodeId)
    );
    await node.stop();
    out.lifecycle = node.lifecycle;
    out.completions = completions;
  } else if (mode === "restart") {
    const node = await ZeroTierNode.start({ libraryPath, timeout: 5000 });
    out.nodeId = node.nodeId;
    await node.stop();
    out.restart = await attempt(() => ZeroTierNode.start({ libraryPath, timeout: 5000 }));
    out.restartWithoutPath = await attempt(() => ZeroTierNode.start({ timeout: 5000 }));
  } else if (mode === "running") {
    const node = await ZeroTierNode.start({ libraryPath, timeout: 5000 });
    out.nodeId = node.nodeId;
    out.second = await attempt(() => ZeroTierNode.start({ libraryPath, timeout: 5000 }));
    out.lifecycleAfterSecond = node.lifecycle;
    await node.waitUntilOnline({ timeout: 3000 });
    const net = adhocNetworkId(7100, 7101);
    const state = await node.join(net, { timeout: 3000 });
    out.stillWorks = state.readyIPv6;
    await node.stop();
  } else if (mode === "aborted") {
    const reason = new Error("aborted before start");
    const first = await attempt(() =>
      ZeroTierNode.start({ libraryPath, signal: AbortSignal.abort(reason), timeout: 5000 })
    );
    out.first = first;
    out.firstRejectedWithReason = (first as { ok: boolean }).ok === false &&
      (first as { error: { message: string } }).error.message === reason.message;
    let node: ZeroTierNode | undefined;
    out.retry = await attempt(async () => {
      node = await ZeroTierNode.start({ libraryPath, timeout: 5000 });
      return node.nodeId;
    });
    await node?.stop();
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} catch (err) {
  out.unexpected = reportError(err);
  Deno.exitCode = 1;
}
console.log(JSON.stringify(out));
