"""Python functions the templates carry inline (``Code.ZipFile``): real modules, unit-tested here."""
from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

#: CloudFormation's limit for ``ZipFile`` source (AWS::Lambda::Function Code.ZipFile).
INLINE_LIMIT = 4096
#: Indentation of the modules (PEP 8) and of their inline form.
INDENT, INLINE_INDENT = 4, 1


def compact(text: str) -> str:
    """``text`` as the template carries it: the same statements without docstrings, comments and blank
    lines, one space per indentation level (the limit counts bytes; the module keeps its comments for
    its readers). Indentation inside brackets is not significant, so continuation lines shrink alike."""
    tree = ast.parse(text)
    docstrings = set()
    for node in [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]:
        first = node.body[0] if node.body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            docstrings.update(range(first.lineno, first.end_lineno + 1))
    lines = text.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.STRING and token.start[0] != token.end[0] and token.start[0] not in docstrings:
            raise ValueError(f"line {token.start[0]}: a multi-line string other than a docstring cannot be compacted")
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col].rstrip()
    kept = []
    for number, line in enumerate(lines, 1):
        if number in docstrings or not line.strip():
            continue
        body = line.lstrip(" ")
        depth = len(line) - len(body)
        if depth % INDENT:
            raise ValueError(f"line {number}: indentation is not a multiple of {INDENT} spaces")
        kept.append(" " * (depth // INDENT * INLINE_INDENT) + body)
    compacted = "\n".join(kept) + "\n"
    compile(compacted, "<inline>", "exec")  # a body that was only a docstring would not
    return compacted


def source(name: str) -> str:
    """The inline form (:func:`compact`) of ``generator/functions/<name>.py``, refused when over the limit."""
    text = compact((Path(__file__).parent / f"{name}.py").read_text())
    if len(text.encode()) > INLINE_LIMIT:
        raise ValueError(f"generator/functions/{name}.py is {len(text.encode())} bytes inline, over CloudFormation's "
                         f"{INLINE_LIMIT}-byte inline code limit; shorten it")
    return text
