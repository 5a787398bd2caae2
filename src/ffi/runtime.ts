/**
 * Which FFI backend opens libzt in this runtime. The Deno entry point
 * registers the `Deno.dlopen` backend and the npm entry point the koffi one,
 * so `src/node/` and `src/streams/` never import a backend directly.
 *
 * @module
 */
import { NodeStateError } from "../errors.ts";
import type { NativeLibrary } from "./backend.ts";

type Opener = (libraryPath?: string) => NativeLibrary;

let opener: Opener | undefined;
let loaded: NativeLibrary | undefined;

/** Registers the backend for this runtime (done by the entry module). */
export function registerBackend(open: Opener): void {
  opener = open;
}

/**
 * Loads libzt once per process and returns it. A later call with a different
 * explicit path is an error: one process holds one libzt.
 */
export function loadLibrary(libraryPath?: string): NativeLibrary {
  if (loaded) {
    if (libraryPath !== undefined && libraryPath !== loaded.path) {
      throw new NodeStateError(
        "LIBZT_ALREADY_LOADED",
        `libzt is already loaded from ${loaded.path}; this process cannot also load ${libraryPath}.`,
      );
    }
    return loaded;
  }
  if (!opener) {
    throw new NodeStateError(
      "NO_FFI_BACKEND",
      "No FFI backend is registered: import rxzt through its entry module (mod.ts or the npm package).",
    );
  }
  loaded = opener(libraryPath);
  return loaded;
}
