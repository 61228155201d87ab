"""Deploy stacks through CloudFormation change sets (``cfn-delivery deploy``).

Modules: ``plan`` (inputs validated before any API call), ``envconfig``
(``params/<env>/environment.json``), ``aws`` (clients with adaptive retries),
``changeset`` (create / wait / describe / delete, skip-identical), ``show`` (the
change-set table), ``watch`` (stack events), ``protect`` (termination protection,
stack policy, rollback triggers), ``errors`` (one-line messages), ``main`` (the
command).
"""
