/**
 * The tier-3 test network of the Deno tests: tests/npm/_netns.ts (one
 * implementation for both runtimes) with the Deno runs' own names, `rz<pid>`
 * on 172.31.X.0/24, so a concurrent npm run (`rzn<pid>`, 172.30.X.0/24) never
 * collides with it.
 *
 * Needs root, iproute2 and nftables.
 */
import {
  cannotBuildTestNetwork,
  createTestNetwork as create,
  type Host,
  type TestNetwork,
} from "../npm/_netns.ts";

export type { Host, TestNetwork };

/** Why this machine cannot build the test network, or undefined when it can. */
export const canBuildTestNetwork: () => Promise<string | undefined> = cannotBuildTestNetwork;

/** Creates `count` bridged hosts on 172.31.X.0/24, each in its own namespace. */
export function createTestNetwork(count: number): Promise<TestNetwork> {
  return create(count, { prefix: "rz", octet: 31 });
}
