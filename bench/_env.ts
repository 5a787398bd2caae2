/**
 * What `deno task bench` and `deno task soak` both need before they start:
 * the reason they cannot run here, and positive numbers from the environment.
 *
 * @module
 */
import { cannotRunTier3 } from "../tests/_net/netns.ts";

/**
 * Exits 0 with one line saying why when `what` cannot run here (no
 * LIBZT_PATH, not root, no iproute2 or nftables); returns LIBZT_PATH otherwise.
 */
export async function libztOrExit(what: string): Promise<string> {
  const skip = await cannotRunTier3();
  if (skip) {
    console.log(`${what} skipped: ${skip}`);
    Deno.exit(0);
  }
  return Deno.env.get("LIBZT_PATH")!;
}

/**
 * A positive number from environment variable `name` (underscores allowed
 * as digit separators), or `fallback` when unset; `integer` also requires a
 * whole number. Anything else throws, naming the variable.
 */
export function envNumber(name: string, fallback: number, integer = false): number {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw.replaceAll("_", ""));
  if (!(integer ? Number.isSafeInteger(n) : Number.isFinite(n)) || n <= 0) {
    throw new Error(`${name} must be a positive ${integer ? "integer" : "number"}, got ${raw}`);
  }
  return n;
}
