/**
 * Shared settings of the examples, from the environment, and how they start a
 * node and report errors:
 * - ZT_NETWORK: network id to join (default: an ad-hoc IPv6 network for ports 5000-5010).
 * - ZT_ROOTS: path of a root set file (from `createRootSet`) for a private
 *   ZeroTier universe; default: ZeroTier's public roots (needs internet).
 * - ZT_STORAGE: directory to keep the identity in (default: a new identity each run).
 */
import { adhocNetworkId, type StartOptions, ZeroTierError, ZeroTierNode } from "../mod.ts";

export const networkId = Deno.env.get("ZT_NETWORK") ?? adhocNetworkId(5000, 5010);

export function startOptions(): StartOptions {
  const roots = Deno.env.get("ZT_ROOTS");
  const storagePath = Deno.env.get("ZT_STORAGE");
  return {
    ...(roots ? { roots: Deno.readFileSync(roots) } : {}),
    ...(storagePath ? { storagePath } : {}),
  };
}

/**
 * Reports an rxzt error the way an app should: its code and message (which
 * say what to do), no stack trace, and exit status 1 once the process ends.
 * Anything else is a bug in the example and is rethrown with its stack.
 */
export function report(err: unknown): void {
  if (!(err instanceof ZeroTierError)) throw err;
  console.error(`error (${err.code}): ${err.message}`);
  Deno.exitCode = 1;
}

/**
 * Starts a node with the examples' settings. If that fails (libzt missing or
 * too old, a missing permission, ...) it reports the error and exits 1: no
 * node runs yet, so there is nothing to stop.
 */
export async function startNode(): Promise<ZeroTierNode> {
  try {
    return await ZeroTierNode.start(startOptions());
  } catch (err) {
    report(err);
    Deno.exit(1);
  }
}
