# ECMAScript edition check of function-test.yml (inlined there by buildspecs/pins.py sync; edit this file, not the copy).
# Parses every .js/.cjs/.mjs file under a folder (node_modules excluded) with esprima-fork at a fixed
# ecmaVersion and fails on syntax newer than that edition: 2020 is what Node.js 14 runs (`a ||= b`, numeric
# separators, class fields and static blocks are later and fail). It checks syntax, not built-in APIs:
# String.prototype.replaceAll (Node 15) or Array.prototype.at (Node 16.6) parse fine (docs/lambda.md).
# Usage: python3 es_syntax.py ECMA_VERSION FOLDER JUNIT_REPORT
import os, sys
from xml.sax.saxutils import quoteattr

import esprima

SUFFIXES = (".js", ".cjs", ".mjs")


def sources(folder):
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in ("node_modules", ".git"))
        for name in sorted(files):
            if name.endswith(SUFFIXES):
                yield os.path.join(root, name)


def check_text(text, ecma_version, module=False):
    """The problem with source ``text`` at ``ecma_version``, or None."""
    parse = esprima.parseModule if module else esprima.parseScript
    try:
        parse(text, {"ecmaVersion": int(ecma_version)})
    except Exception as error:  # esprima raises its own Error with the line and the feature
        return str(error)
    return None


def check(path, ecma_version):
    """The problem with ``path`` at ``ecma_version``, or None: a .mjs file is a module, the rest CommonJS scripts."""
    with open(path, encoding="utf-8") as handle:
        return check_text(handle.read(), ecma_version, module=path.endswith(".mjs"))


def main(argv):
    ecma_version, folder, report = int(argv[1]), argv[2], argv[3]
    results = [(os.path.relpath(path, folder), check(path, ecma_version)) for path in sources(folder)]
    if not results:
        print(f"no JavaScript source under {folder}")
    cases = []
    for name, problem in results:
        print(f"{'FAIL' if problem else 'ok  '} {name}" + (f": {problem} (ECMAScript {ecma_version})" if problem else ""))
        failure = f"<failure message={quoteattr(problem)}/>" if problem else ""
        cases.append(f"<testcase classname=\"ecmascript-{ecma_version}\" name={quoteattr(name)}>{failure}</testcase>")
    failed = sum(1 for _, problem in results if problem)
    os.makedirs(os.path.dirname(report) or ".", exist_ok=True)
    with open(report, "w", encoding="utf-8") as handle:
        handle.write(f"<testsuite name=\"ecmascript-{ecma_version}\" tests=\"{len(results)}\" failures=\"{failed}\">"
                     + "".join(cases) + "</testsuite>\n")
    print(f"{len(results)} file(s) checked at ECMAScript {ecma_version}, {failed} newer than it")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
