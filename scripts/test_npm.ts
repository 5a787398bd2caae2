/**
 * `deno task test:npm`: tests the npm package the way a user gets it. Packs
 * `npm/` (build it first with `deno task build:npm`; built here if missing),
 * installs the tarball into a scratch project (`.cache/npm_test/`, gitignored),
 * compiles the shared tests of `tests/npm/` (which import `"rxzt"`) with the
 * same TypeScript compiler, and runs them with `node --test` against the
 * installed package: tier 2 on the stand-in always, tier 3 (real libzt in
 * network namespaces) when LIBZT_PATH is set and the user is root.
 *
 * Prints `node: N passed, N failed` last; exits non-zero when a test failed.
 *
 * @module
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { ensureTools } from "./build_npm.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const tools = join(root, "scripts", "node_modules");
const pkgDir = join(root, "npm");
/**
 * Packages the shared tests use besides rxzt (tests/npm/http_test.ts, snippets_test.ts); not
 * dependencies of rxzt. undici 7 needs Node 20.18.1 or newer.
 */
export const TEST_ONLY_DEPENDENCIES = {
  hono: "^4",
  express: "^5",
  fastify: "^5",
  undici: "^7",
} as const;
/** The scratch project (gitignored via /.cache/). */
export const SCRATCH = join(root, ".cache", "npm_test");

function sh(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
}

/**
 * Packs npm/, installs the tarball into a fresh scratch project and compiles
 * tests/npm/ (and the agent of tests/_net/) into it. Returns the directory of
 * the compiled tests/npm/.
 */
export function prepareNodeProject(): string {
  ensureTools();
  if (!existsSync(join(pkgDir, "package.json"))) {
    console.log("npm/ is not built: running scripts/build_npm.ts");
    sh("deno", ["run", "-A", join(root, "scripts", "build_npm.ts")], root);
  }
  rmSync(SCRATCH, { recursive: true, force: true });
  mkdirSync(SCRATCH, { recursive: true });
  const packed = JSON.parse(
    sh("npm", ["pack", "--json", "--pack-destination", SCRATCH], pkgDir),
  ) as { filename: string }[];
  const tarball = packed[0].filename;
  writeFileSync(
    join(SCRATCH, "package.json"),
    JSON.stringify(
      {
        name: "rxzt-npm-test",
        private: true,
        type: "module",
        // Test-only: the HTTP tests serve a Hono app, Express and Fastify and dial with undici
        // (never the package's own).
        dependencies: { rxzt: `file:./${tarball}`, ...TEST_ONLY_DEPENDENCIES },
      },
      null,
      2,
    ),
  );
  console.log(`installing ${tarball} into ${SCRATCH}`);
  sh("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], SCRATCH);

  const testsDir = join(SCRATCH, "tests");
  // The shared tests, and the agent they (and the benchmark) run as a Node process; the rest of
  // tests/_net/ comes along as imported.
  const sources = readdirSync(join(root, "tests", "npm")).filter((f) => f.endsWith(".ts")).map((
    f,
  ) => join(root, "tests", "npm", f)).concat(join(root, "tests", "_net", "agent.ts"));
  const tsconfig = {
    compilerOptions: {
      target: "ES2022",
      module: "ES2022",
      moduleResolution: "Bundler",
      lib: ["ES2023", "DOM", "DOM.Iterable", "DOM.AsyncIterable", "ESNext.Disposable"],
      types: ["node"],
      typeRoots: [join(tools, "@types")],
      // Types of the package as built; at run time Node resolves the installed one.
      paths: { "rxzt": [join(pkgDir, "esm", "mod_node.d.ts")], "rxjs": [join(tools, "rxjs")] },
      strict: true,
      noImplicitAny: false,
      rewriteRelativeImportExtensions: true,
      skipLibCheck: true,
      rootDir: join(root, "tests"),
      outDir: testsDir,
      newLine: "lf",
    },
    files: sources,
  };
  const config = join(SCRATCH, "tsconfig.tests.json");
  writeFileSync(config, JSON.stringify(tsconfig, null, 2));
  execFileSync("node", [join(tools, "typescript", "bin", "tsc"), "-p", config], {
    cwd: SCRATCH,
    stdio: "inherit",
  });
  return join(testsDir, "npm");
}

if (import.meta.main) {
  const testsDir = prepareNodeProject();
  const files = readdirSync(testsDir).filter((f) => f.endsWith("_test.js")).sort().map((f) =>
    join(testsDir, f)
  );
  console.log(
    `${execFileSync("node", ["--version"], { encoding: "utf8" }).trim()}: node --test ${
      files.map((f) => f.slice(testsDir.length + 1)).join(" ")
    }`,
  );
  const result = spawnSync("node", [
    "--test",
    "--test-concurrency=1",
    "--test-reporter=spec",
    ...files,
  ], {
    cwd: SCRATCH,
    env: { ...process.env, RXZT_REPO: root, RXZT_NPM_PROJECT: SCRATCH },
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
  });
  process.stdout.write(result.stdout);
  const count = (what: string) =>
    Number((result.stdout.match(new RegExp(`^ℹ ${what} (\\d+)`, "m")) ?? [])[1] ?? 0);
  console.log(`node: ${count("pass")} passed, ${count("fail")} failed`);
  process.exit(result.status ?? 1);
}
