/**
 * A self-hosted ZeroTier network on a test network (`netns.ts`), as the
 * tier-3 tests and the soak set it up: a root on the first host, with a
 * signed root set naming it, and a leaf on each host after it, each an agent
 * process (`agent_client.ts`).
 */
import { Agent, type AgentOptions } from "./agent_client.ts";
import type { Host, TestNetwork } from "./netns.ts";

/** ZeroTier's UDP port on every test host. */
export const ZT_PORT = 9993;

/** A leaf to start: its agent's name, and how to start the agent. */
export interface LeafSpec extends AgentOptions {
  readonly name: string;
  /** Where it runs. Default: the host after the previous leaf's (the first: `net.hosts[1]`). */
  readonly host?: Host;
}

/** The started nodes. */
export interface ZeroTierNodes {
  /** The root's agent. */
  readonly root: Agent;
  /** Each leaf's agent, in the order asked for. */
  readonly leaves: Agent[];
  /** The root's node id. */
  readonly rootId: string;
  /** Each leaf's node id. */
  readonly leafIds: string[];
  /** Each node's runtime as it reported it: the root's, then each leaf's. */
  readonly runtimes: string[];
  /** The root's secret identity. */
  readonly rootSecret: string;
  /** The signed root set, base64 (what an agent's `start` takes as `roots`). */
  readonly roots: string;
}

/**
 * Starts the root (agent "root", `root` options) on `net.hosts[0]` and the
 * leaves on the hosts after it (unless a leaf names its host); resolves once every node is up (not yet
 * online). If a start fails, every agent started is killed.
 */
export async function startZeroTierNodes(
  net: TestNetwork,
  leaves: readonly (string | LeafSpec)[],
  root: AgentOptions = {},
): Promise<ZeroTierNodes> {
  const rootHost = net.hosts[0];
  const agents: Agent[] = [];
  try {
    const rootAgent = new Agent("root", rootHost, root);
    agents.push(rootAgent);
    const { secret, roots } = await rootAgent.call<{ secret: string; roots: string }>(
      "makePlanet",
      { endpoint: `${rootHost.address}/${ZT_PORT}` },
    );
    let next = 1;
    const leafAgents = leaves.map((leaf) => {
      const spec: LeafSpec = typeof leaf === "string" ? { name: leaf } : leaf;
      const host = spec.host ?? net.hosts[next];
      next = net.hosts.indexOf(host) + 1;
      const agent = new Agent(spec.name, host, spec);
      agents.push(agent);
      return agent;
    });
    type Started = { nodeId: string; runtime: string };
    const started = await Promise.all([
      rootAgent.call<Started>("start", { identity: secret, roots, port: ZT_PORT }),
      ...leafAgents.map((x) => x.call<Started>("start", { roots, port: ZT_PORT })),
    ]);
    return {
      root: rootAgent,
      leaves: leafAgents,
      rootId: started[0].nodeId,
      leafIds: started.slice(1).map((s) => s.nodeId),
      runtimes: started.map((s) => s.runtime),
      rootSecret: secret,
      roots,
    };
  } catch (err) {
    for (const agent of agents) agent.kill();
    throw err;
  }
}
