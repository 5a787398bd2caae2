/**
 * Live monitor: starts a node, joins a network and prints node, network and
 * peer changes through RxJS pipelines until Ctrl-C.
 *
 *   LIBZT_PATH=/usr/local/lib/libzt.so deno task demo
 */
import { distinctUntilChanged, map, merge } from "rxjs";
import { networkId, report, startNode } from "./_config.ts";

const node = await startNode(); // without libzt: prints why and exits 1
const time = () => new Date().toISOString().slice(11, 23);
console.log(`${time()} node ${node.nodeId} up (libzt: ${node.libraryPath})`);

const lines$ = merge(
  node.online$.pipe(map((up) => `node ${up ? "ONLINE" : "offline"}`)),
  node.network$(networkId).pipe(
    map((n) =>
      `network ${n.networkId} ${n.status} ${n.name} ipv4:${n.readyIPv4} ipv6:${n.readyIPv6} ` +
      n.assignedAddresses.map((a) => `${a.address}/${a.prefixLength}`).join(" ")
    ),
    distinctUntilChanged(),
  ),
  node.peer$().pipe(
    map((p) =>
      `peer ${p.peerId} ${p.role} ${p.link} latency=${p.latency ?? "?"}ms paths=[${
        p.paths.map((x) => `${x.address}/${x.port}`).join(", ")
      }]`
    ),
  ),
  node.address$.pipe(map((a) => `address ${a.added ? "+" : "-"} ${a.address} on ${a.networkId}`)),
);
const subscription = lines$.subscribe((line) => console.log(`${time()} ${line}`));

node.waitUntilOnline({ timeout: 60_000 })
  .then(() => node.join(networkId, { timeout: 60_000 }))
  .catch(report); // prints code and message; keeps monitoring, exit status 1 at the end

const stop = async () => {
  Deno.removeSignalListener("SIGINT", stop);
  subscription.unsubscribe();
  await node.stop();
  // No Deno.exit: a stopped node lets the process end by itself.
  console.log(`${time()} stopped`);
};
Deno.addSignalListener("SIGINT", stop);
