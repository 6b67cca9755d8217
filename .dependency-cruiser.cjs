/**
 * The package graph, checked by `npm run lint`:
 *
 *   contract <- core <- functions <- runtime <- cli        consumer -> contract only, admin -> contract only
 *   contract <- workflow <- runtime, stacks                 examples -> packages' public entry points only
 *
 * Packages reach each other by package name only (a workspace import), never by a relative path.
 */
const others = (...allowed) => `^packages/(?!(${allowed.join("|")})/)[^/]+/`;

const layer = (name, from, ...allowed) => ({
  name,
  severity: "error",
  comment: `${from} may import only ${allowed.join(", ") || "no other sluice package"}`,
  // src/examples/ holds README snippets, compiled and run by the tests: they may show the package with others.
  from: { path: `^packages/${from}/src/`, pathNot: `^packages/${from}/src/examples/` },
  to: { path: others(from, ...allowed) },
});

module.exports = {
  forbidden: [
    {
      name: "no-relative-import-across-packages",
      severity: "error",
      comment:
        "packages import each other by package name (a workspace dependency), never by a relative path",
      from: { path: "^((?:packages|examples)/[^/]+)/" },
      to: {
        dependencyTypes: ["local"],
        dependencyTypesNot: ["aliased"],
        pathNot: ["^$1/", "^node_modules/"],
      },
    },
    {
      name: "no-relative-import-into-packages",
      severity: "error",
      comment: "the repository's own tooling (stacks, scripts, bench) reaches packages by name too",
      from: { path: "^(stacks|scripts|bench|sst\\.config\\.ts)" },
      to: { dependencyTypes: ["local"], dependencyTypesNot: ["aliased"], path: "^(packages|examples)/" },
    },
    layer("contract-depends-on-nothing", "contract"),
    layer("core-on-contract", "core", "contract"),
    layer("workflow-on-contract", "workflow", "contract"),
    layer("consumer-on-contract-only", "consumer", "contract"),
    layer("admin-on-contract-only", "admin", "contract"),
    layer("functions-below-runtime", "functions", "contract", "core"),
    layer("runtime-below-cli", "runtime", "contract", "core", "functions", "workflow"),
    layer("cli-on-top", "cli", "contract", "core", "functions", "workflow", "runtime", "consumer", "admin"),
    {
      name: "examples-use-public-entry-points",
      severity: "error",
      comment: "the example admin server uses packages the way a user does: through their entry points",
      from: { path: "^examples/" },
      to: {
        path: "^packages/[^/]+/src/",
        pathNot: "^packages/[^/]+/src/(index|cdk)\\.ts$|^packages/test-support/",
      },
    },
    {
      name: "no-test-support-in-sources",
      severity: "error",
      from: { path: "^(packages/(?!test-support/)[^/]+/src|examples/[^/]+/src|stacks)/" },
      to: { path: "^packages/test-support/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|dist|\\.sst|cdk\\.out)/" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    combinedDependencies: true,
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
    },
  },
};
