// ESLint: correctness rules from typescript-eslint's recommended set (formatting is Prettier's
// job), and the import boundaries between layers (docs/architecture.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** What no runtime file imports: a gate, the application, or a gate's keys and records. */
const runtimePatterns = [
  { regex: '(^|/)(handlers|app|cli)/', message: 'the runtime imports no gate and nothing of the application layer' },
  {
    // A gate's keys, streams and records are its own: its status section reads them. The generic
    // formats are shared: stream fields, settings, and the status document's shapes (schemas/status/,
    // which gates declare their sections in, the runtime serves, and app/ and cli/ draw).
    regex: '(^|/)(schemas/(?!(fields|env)\\.js$|status/)|domain/(?!number\\.js$))',
    message: "the runtime imports no gate's keys or records: of schemas/ and domain/, only fields.js, env.js, status/ and number.js",
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-artifacts/**', '.data/**', 'coverage/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      // Unused arguments named _x are deliberate (a gate that ignores its config, say).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    // Browser code served as-is to the status page.
    files: ['app/status-page/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly',
        document: 'readonly',
        fetch: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        Intl: 'readonly',
        location: 'readonly',
        URL: 'readonly',
        EventSource: 'readonly',
        navigator: 'readonly',
      },
    },
  },
  {
    files: ['bin/**/*.js', 'scripts/**/*.mjs', 'scripts/**/*.js', 'test/**/*.mjs', 'eslint.config.js'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        AbortSignal: 'readonly',
      },
    },
  },
  {
    // Gates get Redis, metrics and time through ctx: importing a client would bypass the
    // runtime's atomic commit and make them untestable with a fake ctx.
    files: ['handlers/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(ioredis|bullmq|fastify|@fastify/|prom-client|pino|@bull-board/)',
              message: 'handlers reach infrastructure through ctx only',
            },
            {
              // The contract is runtime/contract/index.ts; the rest of runtime/ is how it is kept.
              regex: '(^|/)runtime/(?!contract/index\\.js$)',
              message: 'handlers import the runtime through runtime/contract/index.js only',
            },
            {
              regex: '(^|/)(app|cli)/',
              message: 'handlers sit below the application layer (app/, cli/)',
            },
          ],
        },
      ],
    },
  },
  {
    // The runtime knows no gate: gates reach it through their declarations, and what the
    // process hosts is the application layer's choice (app/, cli/).
    files: ['runtime/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: runtimePatterns }] },
  },
  {
    // The contract is what a gate sees: it leans on nothing of how it is kept.
    files: ['runtime/contract/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...runtimePatterns,
            { regex: '^\\.\\./(engine|sources|host)/', message: 'the contract imports nothing of the engine, the sources or the host' },
          ],
        },
      ],
    },
  },
  {
    // The engine runs deliveries whatever their source and whoever hosts it.
    files: ['runtime/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...runtimePatterns,
            { regex: '^\\.\\./(sources|host)/', message: 'the engine imports nothing of the sources or the host' },
          ],
        },
      ],
    },
  },
  {
    // The application starts and reads the runtime through its host, never past it.
    files: ['app/**/*.ts', 'cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)runtime/(?!host/index\\.js$)',
              message: 'app/ and cli/ import the runtime through runtime/host/index.js only',
            },
          ],
        },
      ],
    },
  },
  {
    // Shared rules are pure: the gates, the status page, the CLI and the HTTP API import them.
    files: ['domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(?!\\./)', message: 'domain rules import nothing but other domain rules' }] },
      ],
    },
  },
  {
    files: ['schemas/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(?!zod$|\\./|\\.\\./domain/)', message: 'schemas depend on zod, schemas and domain rules only' }] },
      ],
    },
  },
);
