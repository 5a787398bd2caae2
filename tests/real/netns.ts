/**
 * A throwaway network for tier-3 tests: one Linux network namespace per
 * ZeroTier node, all joined by a bridge that lives in a namespace of its own,
 * so nothing touches the host's network. Addresses are private and exist
 * only inside these namespaces. `destroy()` removes everything, and is safe
 * to call twice.
 *
 * Needs root and iproute2 (`ip`).
 */

export interface Host {
  /** Namespace name. */
  readonly ns: string;
  /** The host's address on the test bridge. */
  readonly address: string;
}

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

async function run(args: string[], allowFailure = false): Promise<string> {
  const out = await new Deno.Command(args[0], { args: args.slice(1), stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success && !allowFailure) {
    throw new Error(`${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return text;
}

/** Whether this machine can build the test network (root and `ip` netns). */
export async function canBuildTestNetwork(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "network namespaces need Linux";
  if (Deno.uid() !== 0) return "network namespaces need root";
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

/**
 * Creates `count` hosts on 172.31.X.0/24 (X from the pid, so parallel runs do
 * not collide), each in its own namespace, bridged together.
 */
export async function createTestNetwork(count: number): Promise<TestNetwork> {
  const tag = `rz${Deno.pid % 100000}`;
  const subnet = 10 + (Deno.pid % 200);
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
      const address = `172.31.${subnet}.${i + 1}`;
      await run(["ip", "netns", "add", ns]);
      created.push(ns);
      // IPv4 only: otherwise ZeroTier also finds paths over IPv6 link-local addresses,
      // which the tests' path blocking would not cover.
      await run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
      await run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
      await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
      // Create the pair inside the host namespace, then move the far end to the hub.
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
    exec: (host, args) => run(["ip", "netns", "exec", host.ns, ...args]),
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
