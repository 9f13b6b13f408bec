// ESLint: correctness rules from typescript-eslint's recommended set (formatting is Prettier's
// job); the import boundaries between layers (docs/architecture.md) are .dependency-cruiser.cjs's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    files: [
      'bin/**/*.js',
      'bin/**/*.mjs',
      'scripts/**/*.mjs',
      'scripts/**/*.js',
      'test/**/*.mjs',
      'eslint.config.js',
      '.dependency-cruiser.cjs',
    ],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        AbortSignal: 'readonly',
        module: 'writable', // .dependency-cruiser.cjs is CommonJS
      },
    },
  },
  {
    // The Node version check: CommonJS in the oldest syntax, so any Node parses it (bin/node-version.cjs).
    files: ['bin/**/*.cjs'],
    languageOptions: {
      ecmaVersion: 5,
      sourceType: 'commonjs',
      globals: { process: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off', 'no-var': 'off' },
  },
  {
    // Which room may import which is .dependency-cruiser.cjs's (npm run lint runs both); what only
    // the import's own text shows is here: a dependency's public entry points, never its build's files.
    files: ['**/*.ts', '**/*.mjs', '**/*.js'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(@[\\w.-]+/)?[\\w.-]+/(dist|built|build|lib|src)(/|$)',
              message: "a dependency's public entry points only (its main module, a documented subpath), never a file of its build",
            },
          ],
        },
      ],
    },
  },
);
