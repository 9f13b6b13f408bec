import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * Writes the errors a file or a describe block failed with outside any test (a beforeAll or
 * afterAll hook, an import) to `outputFile`: vitest's JSON report keeps a file's own first error
 * only, so a describe's failed hook showed there as a failed file with no message.
 * scripts/ci-failures.mjs prints them beside the JSON report they go with.
 */
export class SuiteErrorsReporter implements Reporter {
  constructor(private readonly outputFile: string) {}

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const failures = testModules.flatMap((module) =>
      [module, ...module.children.allSuites()].flatMap((suite) =>
        suite.errors().map((error) => ({
          file: module.moduleId,
          suite: suite.type === 'module' ? '(the file)' : suite.fullName,
          message: error.stack ?? error.message,
        })),
      ),
    );
    mkdirSync(dirname(this.outputFile), { recursive: true });
    writeFileSync(this.outputFile, `${JSON.stringify(failures, null, 2)}\n`);
  }
}

/** Where the suite errors of a run whose JSON report is `jsonReport` are written. */
export const suiteErrorsFile = (jsonReport: string): string => jsonReport.replace(/\.json$/, '.suite-errors.json');
