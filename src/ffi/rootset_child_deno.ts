/**
 * The root-set signer under Deno: the Deno backend runs it as
 * `deno run --allow-ffi <this module> <request>` with a private scratch
 * directory as its working directory (see `rootset.ts`). It opens the
 * library named in the request with only `zts_util_sign_root_set` bound,
 * signs, and prints the reply as one JSON line.
 *
 * @module
 */
import { answerSignRequest, type RootSetSigner } from "./rootset.ts";
import { SYMBOLS } from "./symbols.ts";

const SIGN = SYMBOLS.zts_util_sign_root_set;

console.log(answerSignRequest(Deno.args[0], (libraryPath): RootSetSigner => {
  const lib = Deno.dlopen(libraryPath, {
    zts_util_sign_root_set: {
      parameters: SIGN.parameters.map((t) => t === "buf" ? "buffer" : t) as Deno.NativeType[],
      result: SIGN.result,
    },
  });
  return {
    addressOf: (buffer) =>
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer as Uint8Array<ArrayBuffer>))),
    sign: lib.symbols.zts_util_sign_root_set as unknown as RootSetSigner["sign"],
  };
}));
