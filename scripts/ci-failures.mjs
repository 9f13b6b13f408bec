#!/usr/bin/env node
// Prints what failed in a CI run (and what failed once and passed on a retry), last, where a truncated log still shows it: CI keeps only the
// tail of what .ci/run prints, and a suite's own failure report sits above the other Node line's
// whole log. Reads vitest's JSON reports (named as arguments) and the coverage summary.
import { existsSync, readFileSync } from 'node:fs';
import { relative as relativeTo } from 'node:path';

const MESSAGE_LINES = 12;

for (const report of process.argv.slice(2)) {
  if (!existsSync(report)) {
    console.log(`ci-failures: ${report}: no report (the suite did not finish)`);
    continue;
  }
  const run = JSON.parse(readFileSync(report, 'utf8'));
  // What a file or describe block failed with outside a test: test/support/suite-errors-reporter.ts.
  const suiteErrorsReport = report.replace(/\.json$/, '.suite-errors.json');
  const suiteErrors = existsSync(suiteErrorsReport) ? JSON.parse(readFileSync(suiteErrorsReport, 'utf8')) : [];
  console.log(`ci-failures: ${report}: ${run.numFailedTests} failed of ${run.numTotalTests}, ${run.numFailedTestSuites} file(s) failed`);
  for (const file of run.testResults) {
    // A passed test with failure messages failed first and passed on a retry (QG_TEST_RETRY).
    for (const test of file.assertionResults.filter((t) => t.status === 'passed' && (t.failureMessages ?? []).length > 0)) {
      console.log(`  FLAKY (passed on a retry) ${relative(file.name)} > ${test.fullName}`);
      for (const message of test.failureMessages) console.log(indent(firstLines(message)));
    }
    if (file.status !== 'failed') continue;
    const failed = file.assertionResults.filter((test) => test.status === 'failed');
    // A file that failed with no failed test failed outside one: a hook, an import, a timeout.
    if (failed.length === 0) {
      console.log(`  FAIL ${relative(file.name)}: ${firstLines(file.message || "(no message of the file's own)")}`);
      for (const error of suiteErrors.filter((e) => e.file === file.name))
        console.log(`    in ${error.suite}:\n${indent(firstLines(error.message))}`);
    }
    for (const test of failed) {
      console.log(`  FAIL ${relative(file.name)} > ${test.fullName}`);
      for (const message of test.failureMessages ?? []) console.log(indent(firstLines(message)));
    }
  }
}

const coverage = 'test-artifacts/coverage/coverage-summary.json';
if (existsSync(coverage)) {
  const total = JSON.parse(readFileSync(coverage, 'utf8')).total;
  const figures = ['statements', 'branches', 'functions', 'lines'].map((kind) => `${kind} ${total[kind].pct}%`);
  console.log(`ci-failures: coverage (npm test, Node 20): ${figures.join(', ')}`);
}

// The message and the project's own frames: the runner's frames say nothing about the failure.
function firstLines(text) {
  const lines = text.split('\n').filter((line) => !/node_modules|node:internal|new Promise/.test(line));
  return lines.slice(0, MESSAGE_LINES).join('\n');
}

function indent(text) {
  return text.replace(/^/gm, '      ');
}

function relative(path) {
  return relativeTo(process.cwd(), path);
}
