/**
 * Berth's import rules, checked by src/architecture.test.ts (and by
 * `npm run check:imports`, which prints the same violations).
 *
 * LAYERS is the one table to edit: a row per folder of src/ (a nested folder
 * such as server/routes may have its own row, the most specific row wins),
 * and what that folder may import besides its own files and the root modules
 * (src/*.ts: errors, time, ports, processes...). An entry is a folder
 * ('store') or one file ('config/model.ts'). An entry that goes against the
 * layers of docs/architecture.md is marked EXCEPTION with why.
 *
 * The other rules: no import cycle anywhere (type-only imports count: they tie
 * the files as much as any other), every import resolves, planners stay pure,
 * and test code (TEST_CODE) is imported only by tests, bench and demo.
 */

const ANY = ['*'];

const LAYERS = {
  // the leaves' neighbours: the outside world and the programs Berth runs
  store: [],
  engine: ['config/model.ts'], // the type of a host spec
  supervisor: [],
  // pure bases
  placement: [],
  lb: ['engine', 'supervisor'], // a door is a container on a host's engine
  config: [
    'imaging/graph.ts', // EXCEPTION (pure): unknown parents and cycles are reported at load, with file and line
    'network/pool.ts', // EXCEPTION (pure): a bad address pool fails at load, with file and line
    'network/addresses.ts', // EXCEPTION (pure): a front door's shared address is checked against the LAN at load
  ],
  // capabilities others build on
  health: ['config', 'engine'],
  imaging: ['config', 'engine', 'store'],
  network: ['config', 'engine', 'store'],
  // capabilities
  doctor: ['engine', 'lb', 'supervisor'], // lb: keepalived's container name, for the door host checks
  secrets: ['config', 'store'],
  apply: ['config', 'store'],
  access: ['config', 'store', 'imaging/plan.ts'], // canonicalJson for the audit chain
  registry: ['imaging', 'config', 'engine', 'store', 'supervisor'],
  // the shared runtime base: never the executor or the workflows
  runtime: ['imaging', 'config', 'engine', 'health', 'lb', 'network', 'placement', 'registry', 'secrets', 'store'],
  // the one rollout executor
  rollout: ['runtime', 'imaging', 'config', 'engine', 'health', 'lb', 'network', 'placement', 'registry', 'secrets', 'store'],
  // the workflows on the executor
  release: ['rollout', 'runtime', 'imaging', 'config', 'engine', 'health', 'lb', 'network', 'placement', 'registry', 'secrets', 'store'],
  fleet: ['access', 'config', 'engine', 'imaging', 'placement', 'registry', 'release', 'rollout', 'runtime', 'store'], // access: a warden's host token; engine: the warden's container body; imaging, registry: the warden's image built and pushed
  reconcile: ['config', 'engine', 'lb', 'release', 'rollout', 'runtime', 'store'],
  remote: ['rollout/rollout-context.ts', 'rollout/executor.ts'], // the types of a rollout's events and result
  // one request type per operation, built by the CLI and the routes, checked and run here
  requests: ['config', 'fleet', 'release', 'rollout', 'runtime', 'store'],
  // the leader lease of servers sharing a store: its pure term, the timer, forwarding to the leader
  leader: ['store'],
  // front doors: nothing below imports them
  server: ['leader', 'access', 'apply', 'config', 'engine', 'fleet', 'reconcile', 'registry', 'release', 'remote', 'requests', 'rollout', 'runtime', 'secrets', 'store'],
  // routes: parse, authorise, call the core the CLI calls, answer; they read no store and never import app.ts
  'server/routes': [
    'server/core.ts', 'server/jobs.ts', 'server/events.ts', 'server/request.ts', 'server/limits.ts',
    'access', 'apply', 'config', 'fleet', 'reconcile', 'registry', 'release', 'requests', 'rollout', 'runtime', 'secrets',
    'leader/status.ts', // berth server status: read from the store, as every server answers alike
  ],
  cli: [
    'leader/status.ts', // berth server status read from the store, without a server
    'access', 'apply', 'config', 'doctor', 'engine', 'fleet', 'imaging', 'lb', 'network', 'reconcile', 'registry', 'release', 'remote', 'requests', 'rollout', 'runtime', 'secrets', 'store', 'supervisor',
    'server/main.ts', // `berth server` loads the server when it runs (a dynamic import)
  ],
  // the top row: dev tools
  demo: ['cli', 'config', 'engine', 'fleet', 'imaging', 'lb', 'release', 'rollout', 'runtime', 'store', 'supervisor', 'testing/cli.ts'], // the CLI runner
  testing: ANY, // test support: whatever a test needs
};

/** Test code: the tests and the modules only tests use. Product code never imports them. */
const TEST_CODE = [
  '\\.test\\.ts$',
  '^src/testing/',
  '^src/registry/testing\\.ts$', // the registry's test helpers, kept beside what they drive
  '^src/network/ipam-fuzz(-worker)?\\.ts$', // the IPAM property test's driver and worker
];

/** Planners: pure functions over plain data; they read no engine and no store. */
const PLANNERS = ['^src/[^/]+/plan\\.ts$', '-plan\\.ts$', '^src/placement/'];
const PLANNER_EXCEPTIONS = [
  '^src/imaging/plan\\.ts$', // EXCEPTION: types only (BuildRecord, BuildInputs from store/builds.ts): the last build it compares with
];

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const target = (entry) => (entry.endsWith('.ts') ? `^src/${escape(entry)}$` : `^src/${escape(entry)}/`);
const ROOT_MODULES = '^src/[^/]+\\.ts$';

function layerRule(folder, allowed) {
  const nested = Object.keys(LAYERS).filter((other) => other.startsWith(`${folder}/`));
  return {
    name: `layer:${folder}`,
    severity: 'error',
    comment: `${folder}/ may import only ${allowed.length ? allowed.join(', ') : 'its own files'} and the root modules (the LAYERS table in .dependency-cruiser.cjs)`,
    from: { path: `^src/${escape(folder)}/`, pathNot: [...TEST_CODE, ...nested.map((inner) => `^src/${escape(inner)}/`)] },
    to: { path: '^src/', pathNot: [`^src/${escape(folder)}/`, ROOT_MODULES, ...allowed.map(target)] },
  };
}

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'an import cycle: move what both sides need into a module of its own',
      from: {},
      to: { circular: true },
    },
    {
      name: 'resolvable',
      severity: 'error',
      comment: 'an import that resolves to no file (the checks below would miss it)',
      from: {},
      to: { couldNotResolve: true },
    },
    ...Object.entries(LAYERS)
      .filter(([, allowed]) => allowed !== ANY)
      .map(([folder, allowed]) => layerRule(folder, allowed)),
    {
      name: 'layer:root',
      severity: 'error',
      comment: 'the root modules (src/*.ts) are the base every folder may import: they import no folder',
      from: { path: ROOT_MODULES },
      to: { path: '^src/[^/]+/' },
    },
    {
      name: 'layer:unknown-folder',
      severity: 'error',
      comment: 'a folder with no row in the LAYERS table of .dependency-cruiser.cjs: add one',
      from: { path: '^src/[^/]+/', pathNot: Object.keys(LAYERS).map((folder) => `^src/${escape(folder)}/`) },
      to: {},
    },
    {
      name: 'test-code-only-from-tests',
      severity: 'error',
      comment: 'product code imports test code; only tests, bench and demo may',
      from: { pathNot: [...TEST_CODE, '^bench/', '^src/demo/'] },
      to: { path: TEST_CODE },
    },
    {
      name: 'planner-pure',
      severity: 'error',
      comment: 'a planner reads no engine and no store: its caller gathers the inputs',
      from: { path: PLANNERS, pathNot: [...TEST_CODE, ...PLANNER_EXCEPTIONS] },
      to: { path: ['^src/engine/', '^src/store/'] },
    },
  ],
  options: {
    // TypeScript 7 has no JavaScript compiler API, so swc parses the sources.
    parser: 'swc',
    doNotFollow: { path: 'node_modules' },
  },
};
