/**
 * Builds the npm package into `npm/` (`deno task build:npm`): ESM JavaScript
 * and `.d.ts` types compiled by the TypeScript compiler from the Node entry
 * point `mod_node.ts`, a generated `package.json`, README and LICENSE.
 *
 * Shaped like a dnt build (`build({ entryPoints, outDir, package })`) so that
 * switching to dnt once JSR is reachable only replaces {@link compile}:
 * 1. entry points and package metadata are declared once, below;
 * 2. the sources are compiled (tsc rewrites the `.ts` import extensions to
 *    `.js`, `rewriteRelativeImportExtensions`, TS >= 5.7);
 *    tsc leaves the `.ts` extensions of type-only imports in the `.d.ts`
 *    files, so {@link fixDeclarationImports} rewrites those to `.js`;
 * 3. package.json, the Node README (`scripts/npm_README.md`), LICENSE, the
 *    `require()` entry (`scripts/require.cjs`) and the threadpool preload are
 *    written;
 * 4. the output is checked: no Deno-only code, no `.ts` import in the shipped
 *    `.js` or `.d.ts` files, every export present, and
 *    `npm pack --dry-run` lists what will ship. (`deno task test:npm` then
 *    installs the packed tarball and runs the tests under Node.)
 *
 * The compiler and koffi's types come from `scripts/package.json` (installed
 * with `npm ci` on first use).
 *
 * @module
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";

const root = fileURLToPath(new URL("..", import.meta.url));
const tools = join(root, "scripts");
const outDir = join(root, "npm");

/** The package's entry points: export name to source file (dnt's `entryPoints`). */
export const ENTRY_POINTS = { ".": "mod_node.ts" } as const;
/** The preload that sizes libuv's threadpool (`node --import rxzt/threadpool`), shipped as is. */
export const THREADPOOL_PRELOAD = {
  export: "./threadpool",
  source: "scripts/threadpool.cjs",
  file: "threadpool.cjs",
} as const;
/** What `require("rxzt")` loads: the package on Node that can require() ES modules, else a clear Error. */
export const REQUIRE_ENTRY = {
  source: "scripts/require.cjs",
  file: "require.cjs",
} as const;
/** The npm package's README (Node-first; the repository's README.md is Deno-first). */
export const NPM_README = "scripts/npm_README.md";
/** Where the sources live (package.json's repository, homepage and bugs). */
export const REPOSITORY = "https://github.com/rxzt/rxzt";
/**
 * Oldest Node the code runs on: `AbortSignal.any` (connect timeouts) needs
 * 20.3, `Symbol.asyncDispose` (`await using node`) 20.4.
 */
export const NODE_ENGINES = ">=20.4.0";
/**
 * Modules loaded by path, so no import reaches them: the I/O worker thread and
 * the root-set signer (a child `node` process in the signing scratch
 * directory, `createRootSet`). Compiled beside the rest.
 */
export const WORKER_ENTRY_POINTS = [
  "src/ffi/receive_worker_node.ts",
  "src/ffi/rootset_child_node.ts",
] as const;
/** Source files that must never ship in the npm package (Deno-only FFI). */
export const DENO_ONLY = [
  "mod.ts",
  "src/ffi/deno.ts",
  "src/ffi/receive_worker_deno.ts",
  "src/ffi/rootset_child_deno.ts",
] as const;

interface DenoConfig {
  name: string;
  version: string;
  license: string;
  imports: Record<string, string>;
}

function run(cmd: string, args: string[], cwd: string, show = false): string {
  return execFileSync(cmd, args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", show ? "inherit" : "pipe", "inherit"],
  }) ?? "";
}

/** Installs the build tools (tsc, koffi's types) from scripts/package-lock.json if missing. */
export function ensureTools(): void {
  if (existsSync(join(tools, "node_modules", "typescript", "bin", "tsc"))) {
    return;
  }
  console.log("installing build tools (npm ci in scripts/)");
  run(
    "npm",
    ["ci", "--ignore-scripts", "--no-audit", "--no-fund"],
    tools,
    true,
  );
}

/** The npm version range of an `npm:` specifier in deno.json's imports. */
function npmRange(specifier: string): string {
  const m = /^npm:(?:@[^/]+\/)?[^@]+@(.+)$/.exec(specifier);
  if (!m) {
    throw new Error(
      `deno.json import ${specifier} is not an npm: specifier with a version`,
    );
  }
  return m[1];
}

/** Step 2: compiles the entry points (and what they import) to npm/esm with types. */
function compile(): void {
  const modules = join(tools, "node_modules");
  const tsconfig = {
    compilerOptions: {
      target: "ES2022",
      module: "ES2022",
      moduleResolution: "Bundler",
      // ES2024: Atomics.waitAsync (Node 20 has it), which the receive rings park on.
      lib: [
        "ES2024",
        "DOM",
        "DOM.Iterable",
        "DOM.AsyncIterable",
        "ESNext.Disposable",
      ],
      types: ["node"],
      typeRoots: [join(modules, "@types")],
      paths: {
        "rxjs": [join(modules, "rxjs")],
        "koffi": [join(modules, "koffi")],
      },
      strict: true,
      declaration: true,
      sourceMap: false,
      rewriteRelativeImportExtensions: true,
      skipLibCheck: true,
      rootDir: root,
      outDir: join(outDir, "esm"),
      newLine: "lf",
    },
    files: [...Object.values(ENTRY_POINTS), ...WORKER_ENTRY_POINTS].map((f) => join(root, f)),
  };
  const config = join(outDir, ".tsconfig.build.json");
  writeFileSync(config, JSON.stringify(tsconfig, null, 2));
  try {
    run(
      "node",
      [join(modules, "typescript", "bin", "tsc"), "-p", config],
      root,
      true,
    );
  } finally {
    rmSync(config);
  }
}

/** A relative `.ts` module specifier in an import or export (`from "./x.ts"`, `import("./x.ts")`). */
const TS_SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(["'])(\.{1,2}\/[^"']*?)\.ts\2/gm;

/**
 * Rewrites the `.ts` extensions tsc leaves in `.d.ts` files (type-only
 * imports are not rewritten by `rewriteRelativeImportExtensions`) to `.js`,
 * outside comments. Returns the files it changed.
 */
export function fixDeclarationImports(dir: string): string[] {
  const changed: string[] = [];
  for (const file of listFiles(dir).filter((f) => f.endsWith(".d.ts"))) {
    const text = readFileSync(file, "utf8");
    const fixed = text.split("\n").map((line) =>
      /^\s*(\*|\/\*|\/\/)/.test(line)
        ? line
        : line.replace(TS_SPECIFIER, (_m, lead, q, path) => `${lead}${q}${path}.js${q}`)
    ).join("\n");
    if (fixed !== text) {
      writeFileSync(file, fixed);
      changed.push(file);
    }
  }
  return changed;
}

/** The relative `.ts` imports left in code (not comments) of a `.js` or `.d.ts` file's text. */
export function tsImportsIn(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(
    /^\s*\/\/.*$/gm,
    "",
  );
  return [...code.matchAll(TS_SPECIFIER)].map((m) => `${m[3]}.ts`);
}

/** Step 3: package.json (from deno.json and scripts/package.json), README, LICENSE, require entry. */
function writeMetadata(deno: DenoConfig): Record<string, unknown> {
  const toolsPkg = JSON.parse(
    readFileSync(join(tools, "package.json"), "utf8"),
  );
  const js = (ts: string) => `./esm/${ts.replace(/\.ts$/, ".js")}`;
  const dts = (ts: string) => `./esm/${ts.replace(/\.ts$/, ".d.ts")}`;
  const pkg = {
    name: "rxzt",
    version: deno.version,
    description:
      "Reactive TypeScript library for libzt (the ZeroTier SDK): an embedded ZeroTier node, " +
      "every event as an RxJS observable, TCP/UDP as web streams. Node build (koffi).",
    license: deno.license,
    type: "module",
    main: js(ENTRY_POINTS["."]),
    types: dts(ENTRY_POINTS["."]),
    exports: {
      ...Object.fromEntries(
        Object.entries(ENTRY_POINTS).map((
          [name, file],
        ) => [name, {
          types: dts(file),
          import: js(file),
          require: `./${REQUIRE_ENTRY.file}`,
        }]),
      ),
      [THREADPOOL_PRELOAD.export]: `./${THREADPOOL_PRELOAD.file}`,
    },
    files: [
      "esm/",
      THREADPOOL_PRELOAD.file,
      REQUIRE_ENTRY.file,
      "README.md",
      "LICENSE",
    ],
    repository: { type: "git", url: `git+${REPOSITORY}.git` },
    homepage: `${REPOSITORY}#readme`,
    bugs: { url: `${REPOSITORY}/issues` },
    engines: { node: NODE_ENGINES },
    os: ["linux", "darwin"],
    keywords: ["zerotier", "libzt", "rxjs", "p2p", "ffi", "koffi"],
    dependencies: {
      rxjs: npmRange(deno.imports.rxjs),
      koffi: toolsPkg.devDependencies.koffi,
    },
    sideEffects: [
      js(ENTRY_POINTS["."]),
      `./${THREADPOOL_PRELOAD.file}`,
      `./${REQUIRE_ENTRY.file}`,
    ],
  };
  writeFileSync(
    join(outDir, "package.json"),
    JSON.stringify(pkg, null, 2) + "\n",
  );
  writeFileSync(
    join(outDir, "README.md"),
    readFileSync(join(root, NPM_README)),
  );
  writeFileSync(
    join(outDir, REQUIRE_ENTRY.file),
    readFileSync(join(root, REQUIRE_ENTRY.source)),
  );
  writeFileSync(join(outDir, "LICENSE"), readFileSync(join(root, "LICENSE")));
  writeFileSync(
    join(outDir, THREADPOOL_PRELOAD.file),
    readFileSync(join(root, THREADPOOL_PRELOAD.source)),
  );
  return pkg;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]
  );
}

/** Step 4: the output holds no Deno-only code and exports what mod.ts exports. */
function checkOutput(): void {
  const files = listFiles(join(outDir, "esm")).map((f) => relative(join(outDir, "esm"), f));
  for (const ts of DENO_ONLY) {
    const stem = ts.replace(/\.ts$/, "");
    const leaked = files.filter((f) => f === `${stem}.js` || f === `${stem}.d.ts`);
    if (leaked.length) {
      throw new Error(
        `Deno-only ${ts} ended up in the npm package: ${leaked.join(", ")}`,
      );
    }
  }
  for (const ts of WORKER_ENTRY_POINTS) {
    if (!files.includes(ts.replace(/\.ts$/, ".js"))) {
      throw new Error(`${ts} (loaded by path) is missing from the npm package`);
    }
  }
  for (const f of files.filter((f) => f.endsWith(".d.ts"))) {
    const left = tsImportsIn(readFileSync(join(outDir, "esm", f), "utf8"));
    if (left.length) throw new Error(`${f} still imports ${left.join(", ")}`);
  }
  for (const f of files.filter((f) => f.endsWith(".js"))) {
    // Code only: the docs may well mention Deno.dlopen.
    const text = readFileSync(join(outDir, "esm", f), "utf8").replace(
      /\/\*[\s\S]*?\*\//g,
      "",
    )
      .replace(/^\s*\/\/.*$/gm, "");
    if (/\bDeno\.(dlopen|UnsafeCallback|UnsafePointer)/.test(text)) {
      throw new Error(`${f} uses Deno's FFI`);
    }
    if (/from\s+["'][^"']+\.ts["']/.test(text)) {
      throw new Error(`${f} still imports a .ts file`);
    }
  }
  // Same public names as the Deno entry point (both re-export src/api.ts only).
  const denoEntry = readFileSync(join(root, "mod.ts"), "utf8");
  const nodeEntry = readFileSync(join(root, ENTRY_POINTS["."]), "utf8");
  const reexports = (src: string) =>
    [...src.matchAll(/^export \* from "(.+)";$/gm)].map((m) => m[1]).sort();
  if (
    JSON.stringify(reexports(denoEntry)) !==
      JSON.stringify(reexports(nodeEntry))
  ) {
    throw new Error("mod.ts and mod_node.ts must re-export the same modules");
  }
  const listing = run("npm", ["pack", "--dry-run", "--json"], outDir);
  const packed = (JSON.parse(listing) as { files: { path: string }[] }[])[0]
    .files.map((f) => f.path);
  if (
    packed.some((p) =>
      !/^(esm\/|README\.md$|LICENSE$|package\.json$|threadpool\.cjs$|require\.cjs$)/
        .test(p)
    )
  ) {
    throw new Error(`unexpected files in the package: ${packed.join(", ")}`);
  }
  console.log(`npm/: ${packed.length} files would be published`);
}

if (import.meta.main) {
  const deno = JSON.parse(
    readFileSync(join(root, "deno.json"), "utf8"),
  ) as DenoConfig;
  ensureTools();
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  compile();
  const fixed = fixDeclarationImports(join(outDir, "esm"));
  console.log(`.d.ts: rewrote .ts imports to .js in ${fixed.length} files`);
  const pkg = writeMetadata(deno);
  checkOutput();
  console.log(
    `built ${pkg.name}@${pkg.version} in ${relative(root, outDir) || "."}/ (${
      dirname(String(pkg.main))
    })`,
  );
}
