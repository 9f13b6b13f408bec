// Refuses a Node older than package.json's "engines" in one line, before anything that needs a
// newer one is loaded: on Node 18 the gates' code either fails to parse (the CLI dies with a
// SyntaxError's stack) or starts and fails every decision (`value.toWellFormed is not a
// function`) while `npm start` says "serving". So this file is CommonJS in the oldest syntax
// (var, no arrow, no template, no node: prefix) that any Node parses, and it runs first: `npm start` runs it as a
// script before the gates (package.json), bin/quantum-gates.js imports it before anything else,
// and the systemd units preload it (`node --require`).
'use strict';

var readFileSync = require('fs').readFileSync;
var join = require('path').join;

/** [major, minor, patch] of "20.19.0", "v18.20.8" or ">=20.19.0"; undefined for anything else. */
function parts(text) {
  var match = /^(?:>=|v)?(\d+)\.(\d+)\.(\d+)/.exec(String(text).trim());
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

/**
 * The line refusing Node `found` (at `path`) where `needed` (package.json's engines.node, a
 * ">=X.Y.Z") is asked, or undefined when `found` meets it. A range this cannot read refuses
 * nothing: the check never stops a Node that would run.
 */
function refusal(needed, found, path) {
  var want = parts(needed);
  var have = parts(found);
  if (want === undefined || have === undefined || !/^>=/.test(String(needed).trim())) return undefined;
  for (var i = 0; i < 3; i++) {
    if (have[i] > want[i]) return undefined;
    if (have[i] < want[i]) {
      return (
        'quantum-gates: needs Node ' +
        needed +
        ' (package.json "engines"), found Node ' +
        found +
        ' at ' +
        path +
        ': install Node ' +
        want.join('.') +
        ' or newer, or put it first on the PATH'
      );
    }
  }
  return undefined;
}

/** package.json's engines.node, read beside this file (bin/ is one folder below the root). */
function needed() {
  var pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
  return pkg.engines && pkg.engines.node;
}

var line = refusal(needed(), process.versions.node, process.execPath);
if (line !== undefined) {
  process.stderr.write(line + '\n');
  process.exit(1);
}

module.exports = { refusal: refusal, needed: needed };
