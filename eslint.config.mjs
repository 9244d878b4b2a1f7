// One lint for the whole repository: each package's `lint` script runs `tsc --noEmit` and then
// `eslint .`, which finds this file (ESLint looks for it from the working directory upwards).
// What it keeps:
//  - promises are awaited or handled (type-aware rules, TypeScript files only);
//  - no `any`, in src and in tests alike;
//  - the layer rules of services/README.md (what rpc/, domain/, db/ and server.ts may import);
//  - kebab-case file and folder names under services/*/src and packages/*/src.
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import checkFile from 'eslint-plugin-check-file';

const here = import.meta.dirname;

/** A no-restricted-imports pattern from a regular expression over the import specifier. */
const forbid = (regex, message) => ({ regex, message });

// Relative paths: any number of `../` (a layer may have sub-folders), then the folder or file.
const up = String.raw`^(\.\./)+`;
const end = String.raw`(\.[cm]?[jt]s)?(/.*)?$`;

const LAYER_RULES = {
  rpc: [
    forbid(`${up}db${end}`, 'rpc/ may not import db/: call a domain/ function (services/README.md, Layers).'),
    forbid(`^pg(/.*)?$`, 'rpc/ may not import pg: SQL lives in db/ and domain/ (services/README.md, Layers).'),
    forbid(`^@prisma/`, 'rpc/ may not import Prisma: the domain/ owns the tables (services/README.md, Layers).'),
    forbid(`(^|/)generated/prisma(/.*)?$`, 'rpc/ may not import the Prisma client: the domain/ owns the tables (services/README.md, Layers).'),
  ],
  domain: [
    forbid(`${up}rpc${end}`, 'domain/ may not import rpc/: the domain never sees gRPC (services/README.md, Layers).'),
    forbid(`${up}server${end}`, 'domain/ may not import server.ts: the domain never sees gRPC (services/README.md, Layers).'),
    forbid(`^@grpc/grpc-js(/.*)?$`, 'domain/ may not import @grpc/grpc-js: throw the kit\'s errors, status.ts maps them (services/README.md, Layers).'),
  ],
  db: [
    forbid(`${up}domain${end}`, 'db/ may not import domain/: a db/ function is one SQL operation over plain values (services/README.md, Layers).'),
    forbid(`${up}rpc${end}`, 'db/ may not import rpc/ (services/README.md, Layers).'),
    forbid(`^@penguinmails/contracts(/.*)?$`, 'db/ may not import the contracts: rows in, rows out; mapping to proto is rpc/\'s (services/README.md, Layers).'),
  ],
  server: [
    forbid(String.raw`^\./db${end}`, 'server.ts may not import db/: it registers the handlers of rpc/ (services/README.md, Layers).'),
  ],
};

const layer = (files, patterns) => ({
  files,
  rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] },
});

export default defineConfig(
  {
    // Generated code, build output, installed packages, local data.
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/.data/**',
      '**/.turbo/**',
      '**/coverage/**',
      'packages/contracts/src/gen/**',
      'packages/contracts/src/.gen-*/**',
      'services/*/src/generated/**',
    ],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'off' },
  },

  // TypeScript: type-aware rules through the project service (each file's nearest tsconfig.json).
  {
    files: ['**/*.ts', '**/*.mts', '**/*.cts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: here },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },

  // Layer boundaries of a service (services/README.md, the table under "Layers").
  layer(['services/*/src/rpc/**/*.ts'], LAYER_RULES.rpc),
  layer(['services/*/src/domain/**/*.ts'], LAYER_RULES.domain),
  layer(['services/*/src/db/**/*.ts'], LAYER_RULES.db),
  layer(['services/*/src/server.ts'], LAYER_RULES.server),

  // File and folder names are kebab-case (`claim-jobs.ts`, `request-guard.ts`); `.test`, `.d`
  // and other middle extensions are allowed. The globs below are relative to the directory
  // eslint runs in (the package); the `files` line is what limits the rule to src/.
  {
    files: ['services/*/src/**/*.{ts,mts,cts,js,mjs,cjs}', 'packages/*/src/**/*.{ts,mts,cts,js,mjs,cjs}'],
    plugins: { 'check-file': checkFile },
    rules: {
      'check-file/filename-naming-convention': ['error', { '**/*': 'KEBAB_CASE' }, { ignoreMiddleExtensions: true }],
      'check-file/folder-naming-convention': ['error', { '**/': 'KEBAB_CASE' }],
    },
  },
);
