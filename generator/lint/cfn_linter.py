"""cfn-lint in-process with its rules loaded once, and each distinct template text linted once.

``cfnlint.api.lint(text, config=...)`` builds a new ``Runner`` per call, and the runner imports and
instantiates every rule (cfn-lint's ~300 and ``generator/lint/rules``), each loading its JSON data:
about 0.4 s per template, as much as linting it. cfn-lint's own command line loads the rules once
and runs them over every template it is given (``Runner.validate_template``); :class:`Linter` does
the same, with a fresh ``ConfigMixIn`` per template as ``lint`` has (a template's ``Metadata``
``cfn-lint`` settings are merged into it by ``set_template_args``, so it must not carry over).

The matches of a template depend only on its text and the configuration (``lint`` is given no file
name), so a linter remembers them per text digest: the gate and the tests lint the same rendered
stacks many times in one process (the examples share stacks byte for byte). ``linter(...)`` returns
one linter per configuration for the whole process.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache


class Linter:
    """cfn-lint with ``include_checks``, ``append_rules`` and ``regions``, rules loaded once."""

    def __init__(self, include_checks: tuple, append_rules: tuple, regions: tuple):
        from cfnlint.config import ConfigMixIn, ManualArgs
        from cfnlint.runner import Runner

        self.config = ManualArgs(include_checks=list(include_checks), append_rules=list(append_rules),
                                 regions=list(regions))
        self.rules = Runner(ConfigMixIn(**self.config)).rules
        self._matches = {}

    def fresh_matches(self, text: str) -> list:
        """What ``cfnlint.api.lint(text, config=self.config)`` returns, with the rules loaded once."""
        from cfnlint.config import ConfigMixIn
        from cfnlint.decode.decode import decode_str
        from cfnlint.runner import run_template_by_data

        template, errors = decode_str(text)
        if errors:
            return errors
        if template is None:
            return []
        return list(run_template_by_data(template, ConfigMixIn(**self.config), self.rules))

    def matches(self, text: str) -> list:
        """:meth:`fresh_matches`, computed once per distinct text (a new list each call)."""
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if digest not in self._matches:
            self._matches[digest] = tuple(self.fresh_matches(text))
        return list(self._matches[digest])


@lru_cache(maxsize=None)
def linter(include_checks=("I",), append_rules=(), regions=("us-east-1",)) -> Linter:
    """The process's linter for this configuration (arguments as tuples: they key the cache)."""
    return Linter(tuple(include_checks), tuple(append_rules), tuple(regions))
