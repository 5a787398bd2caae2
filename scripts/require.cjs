/**
 * `require("rxzt")`: rxzt is an ES module package. Node versions that can
 * `require()` an ES module (Node >= 20.19 and >= 22.12, where
 * `process.features.require_module` is true) get the package itself, the same
 * instance an `import` gets; older ones, or a Node started with
 * `--no-experimental-require-module`, get an Error that says what to do.
 *
 * Copied into the npm package by scripts/build_npm.ts (the `require`
 * condition of package.json's `exports`).
 */
"use strict";
if (process.features && process.features.require_module) {
  module.exports = require("./esm/mod_node.js");
} else {
  const err = new Error(
    "rxzt is an ES module (ESM-only) package and this Node cannot require() ES modules " +
      `(Node ${process.versions.node}). Load it with import instead: ` +
      '`import { ZeroTierNode } from "rxzt"` in an ES module (.mjs, or "type": "module"), ' +
      'or `const { ZeroTierNode } = await import("rxzt")` from CommonJS. ' +
      "Node >= 20.19 can also require() it.",
  );
  err.code = "RXZT_ESM_ONLY";
  throw err;
}
