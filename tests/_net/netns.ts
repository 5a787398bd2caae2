/**
 * A throwaway network for tier-3 tests, in either runtime (node:child_process):
 * one Linux network namespace per ZeroTier node, all joined by a bridge that
 * lives in a namespace of its own, so nothing touches the host's network.
 * Addresses are private and exist only inside these namespaces. `destroy()`
 * removes everything, and is safe to call twice.
 *
 * Names and subnets: `<prefix><pid>` and 172.<octet>.X.0/24 (X from the pid).
 * By default a run under Node (the npm tests) uses `rzn` / 30 and a run under
 * Deno (tests/real, the benchmark, the soak) `rz` / 31, so concurrent runs
 * never collide.
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

/** The network: hosts, path blocking, commands inside a host, teardown. */
export interface TestNetwork {
  readonly hosts: readonly Host[];
  /**
   * Drops (true) or restores (false) direct traffic from `from` to `to`: an
   * nftables rule in `from` (routes are not enough: ZeroTier binds its sockets
   * to the interface, which bypasses blackhole routes).
   */
  block(from: Host, to: Host, blocked: boolean): Promise<void>;
  /** Runs a command inside a host's namespace; throws with its stderr on failure. */
  exec(host: Host, args: string[]): Promise<string>;
  destroy(): Promise<void>;
}

/** Names and subnet of a test network (see the module comment). */
export interface TestNetworkOptions {
  /** Namespace name prefix, followed by the pid. Default: "rzn" under Node, "rz" under Deno. */
  prefix?: string;
  /** Second octet of the 172.X.Y.0/24 subnet. Default: 30 under Node, 31 under Deno. */
  octet?: number;
}

const DENO = "Deno" in globalThis;

function run(args: string[], allowFailure = false): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(args[0], args.slice(1), { encoding: "utf8" }, (err, stdout, stderr) => {
      if (err && !allowFailure) {
        reject(new Error(`${args.join(" ")} failed: ${String(stderr).trim() || err.message}`));
      } else resolve(String(stdout));
    });
  });
}

/**
 * Why tier 3 (a real libzt, LIBZT_PATH, on the test network) cannot run
 * here, or undefined when it can.
 */
export async function cannotRunTier3(): Promise<string | undefined> {
  return process.env.LIBZT_PATH ? await cannotBuildTestNetwork() : "LIBZT_PATH is not set";
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
export async function createTestNetwork(
  count: number,
  { prefix = DENO ? "rz" : "rzn", octet = DENO ? 31 : 30 }: TestNetworkOptions = {},
): Promise<TestNetwork> {
  const tag = `${prefix}${process.pid % 100000}`;
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
      const address = `172.${octet}.${subnet}.${i + 1}`;
      await run(["ip", "netns", "add", ns]);
      created.push(ns);
      // IPv4 only: otherwise ZeroTier also finds paths over IPv6 link-local addresses,
      // which the path blocking would not cover.
      await run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
      await run([
        "ip",
        "netns",
        "exec",
        ns,
        "sysctl",
        "-qw",
        "net.ipv6.conf.default.disable_ipv6=1",
      ]);
      await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
      await run([
        "ip",
        "-n",
        ns,
        "link",
        "add",
        "eth0",
        "type",
        "veth",
        "peer",
        "name",
        `${tag}h${i}`,
      ]);
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
    exec: (host, args) => run(["ip", "netns", "exec", host.ns, ...args]),
    block: async (from, to, blocked) => {
      const nft = (...args: string[]) => run(["ip", "netns", "exec", from.ns, "nft", ...args]);
      if (!blocked) {
        // Only this destination's rule: a host may block several others at once.
        const rules = await nft("-a", "list", "chain", "inet", "rxzt", "out").catch(() => "");
        const rule = rules.split("\n").find((line) => line.includes(`ip daddr ${to.address} drop`));
        const handle = rule?.match(/# handle (\d+)/)?.[1];
        if (handle) await nft("delete", "rule", "inet", "rxzt", "out", "handle", handle);
        return;
      }
      await nft("add", "table", "inet", "rxzt");
      await nft("add", "chain", "inet", "rxzt", "out", "{ type filter hook output priority 0; }");
      await nft("add", "rule", "inet", "rxzt", "out", "ip", "daddr", to.address, "drop");
    },
    destroy,
  };
}
