// The layers and rooms of docs/architecture.md ("Layers"), checked by `npm run lint`. Type-only
// imports count: they tie modules together all the same. A dependency's internals (bullmq/dist/...)
// show only in the import's text, which ESLint checks (eslint.config.js); here, a path past a
// package's "exports" does not resolve.
const infrastructure = '^node_modules/(ioredis|bullmq|fastify|@fastify|prom-client|pino|@bull-board)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'No module imports itself through others.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      comment: 'Every import resolves to a file or a package (a path past a package\'s "exports" does not).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'handlers-no-infrastructure',
      comment: 'Gates reach Redis, metrics, HTTP and logs through ctx only.',
      severity: 'error',
      from: { path: '^handlers/' },
      to: { path: infrastructure },
    },
    {
      name: 'handlers-through-the-contract',
      comment: 'A gate imports the runtime through runtime/contract/index.ts only, and nothing of app/ or cli/.',
      severity: 'error',
      from: { path: '^handlers/' },
      to: { path: '^(runtime/|app/|cli/)', pathNot: '^runtime/contract/index\\.ts$' },
    },
    {
      name: 'handlers-own-folder',
      comment: "A gate's folder is its own; what two gates share lives in handlers/positions/.",
      severity: 'error',
      from: { path: '^handlers/([^/]+)/' },
      to: { path: '^handlers/[^/]+/', pathNot: ['^handlers/$1/', '^handlers/positions/'] },
    },
    {
      name: 'runtime-knows-no-gate',
      comment:
        'The runtime imports no gate, nothing of app/ or cli/, and of schemas/ and domain/ only the generic formats (fields, env, status/, number).',
      severity: 'error',
      from: { path: '^runtime/' },
      to: {
        path: '^(handlers|app|cli|schemas|domain)/',
        pathNot: '^(schemas/(fields|env)\\.ts|schemas/status/|domain/number\\.ts)',
      },
    },
    {
      name: 'contract-room',
      comment: 'The contract leans on nothing of how it is kept.',
      severity: 'error',
      from: { path: '^runtime/contract/' },
      to: { path: '^runtime/(engine|sources|host)/' },
    },
    {
      name: 'engine-room',
      comment: 'The engine runs deliveries whatever their source and whoever hosts them.',
      severity: 'error',
      from: { path: '^runtime/engine/' },
      to: { path: '^runtime/(sources|host)/' },
    },
    {
      name: 'sources-room',
      comment: 'A source takes what it needs from the engine, never from the host that wires it.',
      severity: 'error',
      from: { path: '^runtime/sources/' },
      to: { path: '^runtime/host/' },
    },
    {
      name: 'application-through-the-host',
      comment:
        'app/ and cli/ import the runtime through runtime/host/index.ts only, and cli/rehearse its ctx through runtime/host/replay.ts.',
      severity: 'error',
      from: { path: '^(app|cli)/' },
      to: { path: '^runtime/', pathNot: '^runtime/host/(index|replay)\\.ts$' },
    },
    {
      name: 'cli-through-its-door',
      comment: 'cli/ imports the application through app/cli-door.ts only.',
      severity: 'error',
      from: { path: '^cli/' },
      to: { path: '^app/', pathNot: '^app/cli-door\\.ts$' },
    },
    {
      name: 'domain-pure',
      comment: 'Shared rules import nothing but other shared rules.',
      severity: 'error',
      from: { path: '^domain/' },
      to: { pathNot: '^domain/' },
    },
    {
      name: 'schemas-zod-only',
      comment: 'Wire formats depend on zod, other schemas and domain rules only.',
      severity: 'error',
      from: { path: '^schemas/' },
      to: { pathNot: ['^schemas/', '^domain/', '^node_modules/zod/'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
