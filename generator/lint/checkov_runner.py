"""Run checkov's command line with its JSONPath parser built once per process.

Executed with checkov's Python (``.venv-checkov/bin/python generator/lint/checkov_runner.py ARGS``),
never imported by the project: it needs checkov, which lives only in .venv-checkov. ``ARGS`` are
checkov's own; the output is checkov's.

checkov (3.3) writes the values it resolves (``Fn::Sub`` of a pseudo parameter, a ``Ref``) back into
its graph at JSONPath keys, and parses each distinct key with bc_jsonpath_ng, which builds a new PLY
LALR parser, grammar tables included, for every expression ("we regenerate the parse table every
time; it doesn't actually take that long!", bc_jsonpath_ng/parser.py): ~0.1 s each, a third of
checkov's time on the committed templates. The tables depend only on the grammar (the parser class
and the arguments it passes), so the built parser is kept and used again, as PLY's own documentation
does (build once with ``yacc.yacc()``, then ``parser.parse(...)`` per input). JSONPath grammars only;
any other PLY grammar is built as before.
"""
from __future__ import annotations

import sys
import warnings


def remember_jsonpath_parsers() -> None:
    import ply.yacc
    from bc_jsonpath_ng.parser import JsonPathParser

    original = ply.yacc.yacc
    built = {}

    def yacc(*args, **kwargs):
        module = kwargs.get("module")
        if args or not isinstance(module, JsonPathParser):
            return original(*args, **kwargs)
        # the grammar's rules are the class's methods; ``errorlog`` is the module's logger
        key = (type(module), tuple(sorted((k, repr(v)) for k, v in kwargs.items() if k not in ("module", "errorlog"))))
        if key not in built:
            built[key] = original(**kwargs)
        return built[key]

    ply.yacc.yacc = yacc


def main(argv) -> int:
    remember_jsonpath_parsers()
    from checkov.main import Checkov

    sys.argv = ["checkov", *argv]
    with warnings.catch_warnings():  # as checkov's own console script
        warnings.simplefilter("ignore", category=SyntaxWarning)
        return Checkov().run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
