/**
 * A self-hosted ZeroTier network on a test network (`netns.ts`), as the
 * tier-3 tests and the soak set it up: a root on the first host, with a
 * signed root set naming it, and a leaf on each host after it, each an agent
 * process (`agent_client.ts`).
 */
import assert from "node:assert/strict";
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

/** One entry of an agent's `peerHistory`. */
export interface PeerStep {
  readonly link: string;
  readonly event: string;
  readonly at: number;
}

/** What {@link relayThenDirect} saw. */
export interface RelayThenDirect {
  /** `from`'s history of the peer while the hosts were blocked from each other. */
  readonly before: PeerStep[];
  /** The peer's state once `from` saw it direct. */
  readonly direct: { link: string; paths: unknown[] };
  /** `from`'s whole history of the peer by then. */
  readonly history: PeerStep[];
  /** Milliseconds from lifting the block to seeing the peer direct. */
  readonly directAfterMs: number;
}

/**
 * The relay→direct scenario, on two leaves whose hosts are blocked from each
 * other: `poke` (traffic from `from` toward peer `peerId`) until `from` sees
 * the peer relayed through the root (at most 40 tries); then lifts the block
 * both ways and pokes until `from` sees it direct (within 90 s). Asserts
 * that the peer was relayed and not direct while blocked, that it turned
 * direct with a path, and relayed before direct in the history; rejects if
 * it never turns direct, naming every peer `from` saw.
 */
export async function relayThenDirect(
  net: TestNetwork,
  [fromHost, peerHost]: readonly [Host, Host],
  from: Agent,
  peerId: string,
  poke: () => Promise<unknown>,
): Promise<RelayThenDirect> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const seen = () => from.call<PeerStep[]>("peerHistory", { peer: peerId });
  for (let i = 0; i < 40 && !(await seen()).some((p) => p.link === "RELAY"); i++) {
    await poke();
    await sleep(500);
  }
  const before = await seen();
  // Lift the block: the root's introduction now leads to a direct path.
  const direct = from.call<{ state: { link: string; paths: unknown[] } }>("waitPeerLink", {
    peer: peerId,
    link: "DIRECT",
  }, 90_000);
  await net.block(fromHost, peerHost, false);
  await net.block(peerHost, fromHost, false);
  const lifted = performance.now();
  let done = false;
  direct.then(() => (done = true), () => {});
  for (let i = 0; i < 60 && !done; i++) {
    await poke();
    await sleep(1000);
  }
  const result = await direct.catch(async (err) => {
    throw new Error(
      `${err.message}; peers seen by ${from.name}: ${
        JSON.stringify(await from.call("allPeers"))
      }, the peer is ${peerId}`,
    );
  });
  const directAfterMs = performance.now() - lifted;
  const history = await seen();
  assert.ok(
    before.some((p) => p.link === "RELAY"),
    `the peer seen through the root: ${JSON.stringify(before)}`,
  );
  assert.ok(
    !before.some((p) => p.link === "DIRECT"),
    `no direct path while blocked: ${JSON.stringify(before)}`,
  );
  assert.equal(result.state.link, "DIRECT");
  assert.ok(result.state.paths.length >= 1, "a direct peer has at least one path");
  const firstRelay = history.findIndex((s) => s.link === "RELAY");
  const firstDirect = history.findIndex((s) => s.link === "DIRECT");
  assert.ok(
    firstRelay >= 0 && firstRelay < firstDirect,
    `relay before direct: ${JSON.stringify(history)}`,
  );
  return { before, direct: result.state, history, directAfterMs };
}

/**
 * Waits (each within `timeoutMs`) until every agent's node is online;
 * resolves with how long each took from its start, ms, by name.
 */
export async function allOnline(
  agents: Readonly<Record<string, Agent>>,
  timeoutMs = 45_000,
): Promise<Record<string, number>> {
  const names = Object.keys(agents);
  const online = await Promise.all(
    names.map((name) =>
      agents[name].call<{ onlineMs: number }>("waitOnline", { timeout: timeoutMs })
    ),
  );
  return Object.fromEntries(names.map((name, i) => {
    assert.ok(online[i].onlineMs > 0, `${name} online`);
    return [name, online[i].onlineMs];
  }));
}
