"""The project's own cfn-lint rules, one per file in the style of cfn-lint's ``src/cfnlint/rules``.

Run with ``cfn-lint --append-rules generator/lint/rules`` (``make lint`` does). cfn-lint loads
every ``[A-Za-z1-9]*.py`` file here as a module and instantiates its ``CloudFormationLintRule``
subclasses, so shared helpers live in ``_common.py`` (skipped by that pattern) and rule files
import only ``cfnlint.rules.CloudFormationLintRule`` itself, never a subclass of it.
Ids E9101-E9199 are ours (cfn-lint's custom-rules file numbers its rules from E9001).
"""
