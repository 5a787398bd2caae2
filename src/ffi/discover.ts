/**
 * Finding libzt on the user's machine. The rules are the same for every
 * backend: an explicit `libraryPath`, then `LIBZT_PATH`, then the usual
 * install locations for the platform.
 *
 * @module
 */
import { LibraryNotFoundError } from "../errors.ts";
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
  "Install libzt 1.8 (the ZeroTier SDK: build it from its sources as its README describes, " +
  "or `brew install libzt`), then point LIBZT_PATH at the shared library " +
  "(e.g. LIBZT_PATH=/usr/local/lib/libzt.so) or pass { libraryPath } to rxzt.";

/**
 * Returns the path of the libzt to load, or throws a
 * {@link LibraryNotFoundError} that lists every place it looked.
 *
 * An explicit path (the option or `LIBZT_PATH`) that does not exist is an
 * error of its own: rxzt never silently falls back to another library.
 */
export function findLibrary(host: HostInfo, libraryPath?: string): string {
  if (libraryPath !== undefined) {
    if (host.isFile(libraryPath)) return libraryPath;
    throw new LibraryNotFoundError(
      [libraryPath],
      `libzt was not found at libraryPath ${libraryPath}: no such file. ${INSTALL_HINT}`,
    );
  }
  const fromEnv = host.env("LIBZT_PATH");
  if (fromEnv) {
    if (host.isFile(fromEnv)) return fromEnv;
    throw new LibraryNotFoundError(
      [fromEnv],
      `libzt was not found at LIBZT_PATH=${fromEnv}: no such file. ${INSTALL_HINT}`,
    );
  }
  const searched = defaultLocations(host.os);
  for (const candidate of searched) {
    if (host.isFile(candidate)) return candidate;
  }
  throw new LibraryNotFoundError(
    searched,
    `libzt was not found. LIBZT_PATH is not set and none of these exist: ${
      searched.join(", ")
    }. ${INSTALL_HINT}`,
  );
}
