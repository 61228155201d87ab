'use strict';
// A test runner for any Node.js version from 14 on: node:test is not in Node 14, so the tests are plain
// functions using assert. Runs every *.test.js in this folder, prints one line per test and
// "N passed, N failed", writes a JUnit report to $JUNIT_REPORT when set, and exits 1 on a failure.
const assert = require('assert');
const fs = require('fs');
const path = require('path');

const tests = [];
global.test = (name, body) => tests.push({ name, body });

function escape(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

async function main() {
  const files = fs.readdirSync(__dirname).filter((name) => name.endsWith('.test.js')).sort();
  for (const file of files) {
    const before = tests.length;
    require(path.join(__dirname, file));
    for (const entry of tests.slice(before)) {
      entry.file = file;
    }
  }
  const results = [];
  for (const entry of tests) {
    try {
      await entry.body(assert);
      results.push({ ...entry, error: null });
      console.log(`ok   ${entry.file}: ${entry.name}`);
    } catch (error) {
      results.push({ ...entry, error });
      console.log(`FAIL ${entry.file}: ${entry.name}\n     ${error && error.message}`);
    }
  }
  const failed = results.filter((result) => result.error).length;
  console.log(`${results.length - failed} passed, ${failed} failed`);
  const report = process.env.JUNIT_REPORT;
  if (report) {
    const cases = results.map((result) => {
      const failure = result.error ? `<failure message="${escape(result.error.message)}"/>` : '';
      return `<testcase classname="${escape(result.file)}" name="${escape(result.name)}">${failure}</testcase>`;
    });
    fs.mkdirSync(path.dirname(report), { recursive: true });
    fs.writeFileSync(report, `<testsuite name="sample-function" tests="${results.length}" failures="${failed}">`
      + `${cases.join('')}</testsuite>\n`);
  }
  if (results.length === 0 || failed > 0) {
    process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
