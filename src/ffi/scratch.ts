/**
 * A private scratch directory as the process's working directory, for
 * `zts_util_sign_root_set`, which reads its keys from the cwd.
 *
 * @module
 */
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";

/**
 * Runs `fn` with the working directory set to a fresh private directory
 * (made by `makeTempDir`, the backend's) holding `files`, then restores the
 * working directory and deletes the directory.
 */
export function inScratchDirectory<T>(
  makeTempDir: () => string,
  files: Record<string, Uint8Array>,
  fn: () => T,
): T {
  const dir = makeTempDir();
  const previous = process.cwd();
  try {
    // Owner only: libzt writes the signing keys here with its own file modes.
    chmodSync(dir, 0o700);
    for (const [name, data] of Object.entries(files)) {
      writeFileSync(join(dir, name), data, { mode: 0o600 });
    }
    process.chdir(dir);
    return fn();
  } finally {
    process.chdir(previous);
    rmSync(dir, { recursive: true, force: true });
  }
}
