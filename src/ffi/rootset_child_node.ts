/**
 * The root-set signer under Node: the koffi backend runs it (compiled, as
 * `rootset_child_node.js` beside the backend) as `node <this module>
 * <request>` with a private scratch directory as its working directory (see
 * `rootset.ts`). It opens the library named in the request with koffi, binds
 * only `zts_util_sign_root_set`, signs, and prints the reply as one JSON line.
 *
 * @module
 */
import process from "node:process";
import koffi from "koffi";
import { answerSignRequest, type RootSetSigner } from "./rootset.ts";

process.stdout.write(
  answerSignRequest(process.argv[2], (libraryPath): RootSetSigner => {
    const lib = koffi.load(libraryPath);
    const sign = lib.func("zts_util_sign_root_set", "int32_t", [
      "void *",
      "void *",
      "void *",
      "void *",
      "void *",
      "void *",
      "uint64_t",
      "uint64_t",
      "void *",
    ]);
    return {
      addressOf: (buffer) => BigInt(koffi.address(buffer)),
      sign: (...args) => sign(...args) as number,
    };
  }) + "\n",
);
