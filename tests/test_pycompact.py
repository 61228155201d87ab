"""generator/core/pycompact.py: the regular-expression scan finds what Python's tokenizer finds."""
import sysconfig
import tokenize
from pathlib import Path

import pytest

from generator.core import pycompact

ROOT = Path(__file__).resolve().parents[1]
#: What templates carry compacted: the buildspecs' inlined scripts and the inline Lambda functions.
SCRIPTS = sorted((ROOT / "buildspecs").glob("*.py")) + sorted(
    p for p in (ROOT / "generator" / "functions").glob("*.py") if p.name != "__init__.py")
#: A spread of the standard library: every string and comment shape Python code takes.
STDLIB = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[::3]


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_compact_is_the_same_with_the_scan_and_with_the_tokenizer(path):
    source = path.read_text(encoding="utf-8")
    assert pycompact._scan(source) is not None
    assert pycompact.compact(source) == pycompact.compact(source, scan=pycompact._tokenized)


def test_the_scan_reports_the_tokenizers_comments_and_multiline_strings_on_the_standard_library():
    compared = 0
    for path in STDLIB:
        source = path.read_text(encoding="utf-8")
        try:
            expected = pycompact._tokenized(source)
        except (tokenize.TokenError, SyntaxError):
            continue
        assert pycompact._scan(source) == expected, path.name
        compared += 1
    assert compared > 50


@pytest.mark.parametrize("source", [
    "x = 1  # a comment with 'quotes' and \"more\"\n",
    "s = '''a # not a comment\n# still the string\n'''  # but this is\n",
    "s = 'line \\\n  continued'  # after\nt = r'\\'' + \"#\"\n",
    "def f():\n    \"\"\"Doc.\"\"\"\n    return f'{1}' \"\"\"x\ny\"\"\"  # end\n",
])
def test_the_scan_on_awkward_shapes(source):
    assert pycompact._scan(source) == pycompact._tokenized(source)


def test_a_shape_the_scan_does_not_understand_goes_to_the_tokenizer():
    assert pycompact._scan("x = 'unterminated\n") is None
    source = "x = 1  # c\n"
    assert pycompact.compact(source, scan=lambda s: None) == "x = 1\n"
