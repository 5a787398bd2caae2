/**
 * Finding libzt on the user's machine. The rules are the same for every
 * backend: an explicit `libraryPath`, then `LIBZT_PATH`, then the usual
 * install locations for the platform.
 *
 * @module
 */
import { LibraryNotFoundError, PermissionError } from "../errors.ts";
import type { HostInfo } from "./backend.ts";

/** The file name of libzt on a platform. */
export function libraryFileName(os: string): string {
  if (os === "darwin") return "libzt.dylib";
  if (os === "windows") return "libzt.dll";
  return "libzt.so";
}

/** The usual install locations, in search order, for a platform. */
export function defaultLocations(os: string): string[] {
  const file = libraryFileName(os);
  const dirs = os === "darwin"
    ? ["/opt/homebrew/lib", "/usr/local/lib", "/usr/lib"]
    : os === "windows"
    ? []
    : [
      "/home/linuxbrew/.linuxbrew/lib",
      "/usr/local/lib",
      "/usr/lib",
      "/usr/lib/x86_64-linux-gnu",
      "/usr/lib/aarch64-linux-gnu",
    ];
  return dirs.map((dir) => `${dir}/${file}`);
}

/** How to install libzt, appended to "not found" errors. */
export const INSTALL_HINT =
  "Install libzt 1.8 or newer (the ZeroTier SDK): the libzt formula of ZeroTier's own Homebrew " +
  "tap (zerotier/tap; homebrew-core's libzt formula is libzt 1.4, too old for rxzt), or a build " +
  "made by following libzt's own instructions (https://github.com/zerotier/libzt). " +
  "Then point LIBZT_PATH at the shared library (e.g. LIBZT_PATH=/usr/local/lib/libzt.so) " +
  "or pass { libraryPath } to rxzt.";

/**
 * Returns the path of the libzt to load, or throws a
 * {@link LibraryNotFoundError} that lists every place it looked.
 *
 * An explicit path (the option or `LIBZT_PATH`) that does not exist is an
 * error of its own: rxzt never silently falls back to another library.
 */
export function findLibrary(host: HostInfo, libraryPath?: string): string {
  if (libraryPath !== undefined) {
    // A PermissionError from isFile propagates: the path the app chose cannot be checked.
    if (host.isFile(libraryPath)) return libraryPath;
    throw new LibraryNotFoundError(
      [libraryPath],
      `libzt was not found at libraryPath ${libraryPath}: no such file. ${INSTALL_HINT}`,
    );
  }
  // Without permission to read LIBZT_PATH, the usual locations may still hold
  // libzt (an app that never sets LIBZT_PATH needs no --allow-env); the
  // refusal is reported only if nothing is found there.
  let envDenied: PermissionError | undefined;
  let fromEnv: string | undefined;
  try {
    fromEnv = host.env("LIBZT_PATH");
  } catch (err) {
    if (!(err instanceof PermissionError)) throw err;
    envDenied = err;
  }
  if (fromEnv) {
    if (host.isFile(fromEnv)) return fromEnv;
    throw new LibraryNotFoundError(
      [fromEnv],
      `libzt was not found at LIBZT_PATH=${fromEnv}: no such file. ${INSTALL_HINT}`,
    );
  }
  const searched = defaultLocations(host.os);
  const unreadable: PermissionError[] = [];
  for (const candidate of searched) {
    try {
      if (host.isFile(candidate)) return candidate;
    } catch (err) {
      if (!(err instanceof PermissionError)) throw err;
      unreadable.push(err);
    }
  }
  if (envDenied || unreadable.length) throw permissionToSearch(envDenied, unreadable, searched);
  throw new LibraryNotFoundError(
    searched,
    `libzt was not found. LIBZT_PATH is not set and none of these exist: ${
      searched.join(", ")
    }. ${INSTALL_HINT}`,
  );
}

/** The error for a search the runtime's permissions cut short: which flags to add, and why. */
function permissionToSearch(
  envDenied: PermissionError | undefined,
  unreadable: readonly PermissionError[],
  searched: readonly string[],
): PermissionError {
  const flags: string[] = [];
  const reasons: string[] = [];
  if (envDenied) {
    flags.push("--allow-env=LIBZT_PATH");
    reasons.push("it may not read the LIBZT_PATH environment variable (--allow-env=LIBZT_PATH)");
  }
  if (unreadable.length) {
    flags.push("--allow-read");
    reasons.push(
      `it may not look at ${
        unreadable.length === searched.length ? "any of" : "some of"
      } the usual locations (${
        searched.join(", ")
      }) (--allow-read, or --allow-read=<libzt's path>)`,
    );
  }
  return new PermissionError(
    flags,
    `rxzt could not look for libzt: ${reasons.join(", and ")}. Run Deno with ${
      flags.join(" ")
    }, or pass { libraryPath } (then --allow-read and --allow-ffi for that path suffice).`,
    { cause: envDenied ?? unreadable[0] },
  );
}
