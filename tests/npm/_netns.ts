/**
 * The tier-3 test network for the npm tests, in either runtime (node:child_process):
 * one network namespace per node, joined by a bridge in a namespace of its
 * own, like tests/real/netns.ts. Names start with `rzn<pid>` and addresses are
 * 172.30.X.0/24, so they never collide with a concurrent Deno tier-3 run
 * (`rz<pid>`, 172.31.X.0/24): every namespace is private anyway, and the
 * names differ by prefix. `destroy()` removes everything.
 *
 * Needs root, iproute2 and nftables.
 */
import { execFile } from "node:child_process";
import process from "node:process";

/** One host of the test network. */
export interface Host {
  readonly ns: string;
  readonly address: string;
}

/** The network: hosts, path blocking, teardown. */
export interface TestNetwork {
  readonly hosts: readonly Host[];
  /** Drops (true) or restores (false) direct traffic from `from` to `to` (nftables in `from`). */
  block(from: Host, to: Host, blocked: boolean): Promise<void>;
  destroy(): Promise<void>;
}

function run(args: string[], allowFailure = false): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(args[0], args.slice(1), { encoding: "utf8" }, (err, stdout, stderr) => {
      if (err && !allowFailure) reject(new Error(`${args.join(" ")} failed: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
  });
}

/** Why this machine cannot build the test network, or undefined when it can. */
export async function cannotBuildTestNetwork(): Promise<string | undefined> {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "network namespaces need root";
  try {
    await run(["ip", "netns", "list"]);
  } catch (err) {
    return `iproute2 'ip netns' is unavailable: ${(err as Error).message}`;
  }
  try {
    await run(["nft", "--version"]);
  } catch {
    return "nftables' nft is needed to cut paths between test hosts (apt-get install nftables)";
  }
  return undefined;
}

/** Creates `count` bridged hosts, each in its own namespace. */
export async function createTestNetwork(count: number): Promise<TestNetwork> {
  const tag = `rzn${process.pid % 100000}`;
  const subnet = 10 + (process.pid % 200);
  const hub = `${tag}-hub`;
  const bridge = `${tag}br`;
  const hosts: Host[] = [];
  const created: string[] = [];
  const destroy = async () => {
    for (const ns of created.splice(0).reverse()) {
      const pids = (await run(["ip", "netns", "pids", ns], true)).split(/\s+/).filter(Boolean);
      for (const pid of pids) await run(["kill", "-9", pid], true);
      await run(["ip", "netns", "del", ns], true);
    }
  };
  try {
    await run(["ip", "netns", "add", hub]);
    created.push(hub);
    await run(["ip", "-n", hub, "link", "set", "lo", "up"]);
    await run(["ip", "-n", hub, "link", "add", bridge, "type", "bridge"]);
    await run(["ip", "-n", hub, "link", "set", bridge, "up"]);
    for (let i = 0; i < count; i++) {
      const ns = `${tag}-n${i}`;
      const address = `172.30.${subnet}.${i + 1}`;
      await run(["ip", "netns", "add", ns]);
      created.push(ns);
      // IPv4 only, so path blocking covers every path between hosts.
      await run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
      await run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
      await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
      await run(["ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", `${tag}h${i}`]);
      await run(["ip", "-n", ns, "link", "set", `${tag}h${i}`, "netns", hub]);
      await run(["ip", "-n", hub, "link", "set", `${tag}h${i}`, "master", bridge]);
      await run(["ip", "-n", hub, "link", "set", `${tag}h${i}`, "up"]);
      await run(["ip", "-n", ns, "addr", "add", `${address}/24`, "dev", "eth0"]);
      await run(["ip", "-n", ns, "link", "set", "eth0", "up"]);
      hosts.push({ ns, address });
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  return {
    hosts,
    block: async (from, to, blocked) => {
      const nft = (...args: string[]) => run(["ip", "netns", "exec", from.ns, "nft", ...args]);
      if (!blocked) {
        await nft("delete", "table", "inet", "rxzt");
        return;
      }
      await nft("add", "table", "inet", "rxzt");
      await nft("add", "chain", "inet", "rxzt", "out", "{ type filter hook output priority 0; }");
      await nft("add", "rule", "inet", "rxzt", "out", "ip", "daddr", to.address, "drop");
    },
    destroy,
  };
}
