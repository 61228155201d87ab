"""Python scripts as they go into a template: without docstrings, comments and blank lines.

The gate and artifact scripts of ``buildspecs/`` are inlined into the buildspecs that templates
carry (``# inline:`` heredocs, kept by ``buildspecs/pins.py sync``). Their documentation is for
readers of ``buildspecs/``; in a template it only costs bytes of the 51,200 a template may have
(about 1.5 KB for ``ecs_artifacts.py`` alone, each line indented 18 spaces). ``compact`` removes
exactly what the interpreter ignores or keeps only in ``__doc__`` (none of the scripts reads it), so
the code that runs is the same: tests/test_buildspecs.py compares the abstract syntax trees and
runs the compacted scripts.
"""
from __future__ import annotations

import ast
import io
import re
import tokenize

#: A heredoc body that is a copy of a script: the line after ``<<'EOF'``.
INLINE_SCRIPT = re.compile(r"^(?P<indent>[ \t]*)# inline: (?P<path>\S+\.py)[ \t]*$")


_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _statements(tree):
    """Every statement-level node (modules, classes, functions, blocks, handlers, match cases):
    the only places a docstring can be; expressions, most of a tree, are not visited."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for block in _BLOCKS:
            stack.extend(getattr(node, block, None) or ())


def _docstring_lines(tree) -> set:
    """Line numbers of every docstring that can go (a body keeps at least one statement)."""
    lines = set()
    for node in _statements(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = node.body
        first = body[0] if body else None
        if (len(body) > 1 and isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str) and first.end_lineno < body[1].lineno
                and (isinstance(node, ast.Module) or first.lineno > node.lineno)):
            lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


#: String literals and comments, in the order a tokenizer meets them (prefixes need no matching:
#: they are letters on the same line, and a backslash escapes a quote in raw strings too). Anything
#: else (a lone quote: not Python this scanner understands) sends ``compact`` to ``tokenize``.
_TRIPLE = r"{q}{q}{q}(?:[^\\{q}]|\\.|{q}(?!{q}{q}))*{q}{q}{q}"
_SINGLE = r"{q}(?:[^\\{q}\n]|\\.)*{q}"
_STRINGS_AND_COMMENTS = re.compile(
    "(?P<string>" + "|".join(form.format(q=q) for form in (_TRIPLE, _SINGLE) for q in "'\"") + ")"
    r"|(?P<comment>#[^\r\n]*)|(?P<other>['\"])",
    re.DOTALL)


def _scan(source: str):
    """(comment column by line, lines inside multi-line strings), as ``tokenize`` reports them, from
    one regular-expression pass (tokenizing cost ~60 % of ``compact``); None when the scan meets
    something it does not understand."""
    comments, keep_verbatim = {}, set()
    line, line_start, at = 1, 0, 0
    for match in _STRINGS_AND_COMMENTS.finditer(source):
        start = match.start()
        breaks = source.count("\n", at, start)
        if breaks:
            line += breaks
            line_start = source.rindex("\n", at, start) + 1
        at = start
        kind = match.lastgroup
        if kind == "comment":
            comments[line] = start - line_start
        elif kind == "string":
            end = match.end()
            inside = source.count("\n", start, end - 1)
            if inside:
                keep_verbatim.update(range(line + 1, line + inside + 1))
                line += inside
                line_start = source.rindex("\n", start, end - 1) + 1
            at = end
        else:
            return None
    return comments, keep_verbatim


def _tokenized(source: str):
    """What ``_scan`` gives, from Python's tokenizer (the reference; the fallback)."""
    keep_verbatim, comments = set(), {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.start[1]
        elif token.start[0] != token.end[0]:  # a string (or f-string part) over several lines
            keep_verbatim.update(range(token.start[0] + 1, token.end[0] + 1))
    return comments, keep_verbatim


def compact(source: str, scan=None) -> str:
    """``source`` without docstrings, comments (the shebang too) and blank lines; lines inside
    multi-line strings stay as they are. ``scan``: how comments and strings are found (default: the
    regular-expression scan, else the tokenizer; tests compare the two)."""
    drop = _docstring_lines(ast.parse(source))
    comments, keep_verbatim = (scan or _scan)(source) or _tokenized(source)
    out = []
    for number, line in enumerate(source.splitlines(), start=1):
        if number in drop:
            continue
        if number in comments:
            line = line[:comments[number]].rstrip()
        if number in keep_verbatim or line.strip():
            out.append(line)
    return "\n".join(out) + "\n"


_compacted: dict = {}


def compact_inlined_scripts(text: str) -> str:
    """``text`` (a buildspec) with every ``# inline: <path>.py`` heredoc body compacted. The marker
    line stays, so the template still says where the code comes from. (Remembered per text within a
    process: several stacks carry the same buildspec, and compacting costs ~5 ms a script.)"""
    if text not in _compacted:
        _compacted[text] = _compact_inlined_scripts(text)
    return _compacted[text]


def _compact_inlined_scripts(text: str) -> str:
    lines = text.splitlines()
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        match = INLINE_SCRIPT.match(line)
        if not (match and len(out) > 1 and out[-2].rstrip().endswith("<<'EOF'")):
            continue
        indent = match.group("indent")
        end = i
        while end < len(lines) and lines[end] != indent + "EOF":
            end += 1
        if end == len(lines):
            raise ValueError(f"unterminated heredoc after '{line.strip()}'")
        body = "\n".join(body_line[len(indent):] if body_line.startswith(indent) else body_line
                         for body_line in lines[i:end]) + "\n"
        out += [indent + kept if kept else "" for kept in compact(body).splitlines()]
        i = end
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")
