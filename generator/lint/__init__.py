"""The security gate behind ``make lint``: cfn-lint (with the project's own rules), checkov,
cfripper, and the suppression list. See :mod:`generator.lint.gate`."""
