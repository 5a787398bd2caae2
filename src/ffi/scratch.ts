/**
 * A private scratch directory for `zts_util_sign_root_set`, which reads and
 * writes its keys in the working directory: the signing runs in a child
 * process whose working directory this is (see `rootset.ts`), so this
 * process's own working directory never changes.
 *
 * @module
 */
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Runs `fn` with a fresh private directory (made by `makeTempDir`, the
 * backend's) holding `files`, then deletes the directory.
 */
export function inScratchDirectory<T>(
  makeTempDir: () => string,
  files: Record<string, Uint8Array>,
  fn: (dir: string) => T,
): T {
  const dir = makeTempDir();
  try {
    // Owner only: libzt writes the signing keys here with its own file modes.
    chmodSync(dir, 0o700);
    for (const [name, data] of Object.entries(files)) {
      writeFileSync(join(dir, name), data, { mode: 0o600 });
    }
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
