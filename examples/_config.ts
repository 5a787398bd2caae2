/**
 * Shared settings of the examples, from the environment:
 * - ZT_NETWORK: network id to join (default: an ad-hoc IPv6 network for ports 5000-5010).
 * - ZT_ROOTS: path of a root set file (from `createRootSet`) for a private
 *   ZeroTier universe; default: ZeroTier's public roots (needs internet).
 * - ZT_STORAGE: directory to keep the identity in (default: a new identity each run).
 */
import { adhocNetworkId, type StartOptions } from "../mod.ts";

export const networkId = Deno.env.get("ZT_NETWORK") ?? adhocNetworkId(5000, 5010);

export function startOptions(): StartOptions {
  const roots = Deno.env.get("ZT_ROOTS");
  const storagePath = Deno.env.get("ZT_STORAGE");
  return {
    ...(roots ? { roots: Deno.readFileSync(roots) } : {}),
    ...(storagePath ? { storagePath } : {}),
  };
}
