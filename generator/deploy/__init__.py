"""Deploy stacks through CloudFormation change sets (``cfn-delivery deploy``).

Modules: ``plan`` (inputs validated before any API call), ``envconfig``
(the environment's deploy settings in ``delivery.yaml``), ``aws`` (re-exports the stack model's clients with
adaptive retries; stack names, effective parameters, the stateful types and the deployed
template come from :mod:`generator.stackmodel`, shared with review and lint),
``changeset`` (create / wait / describe / delete, skip-identical), ``show`` (the
change-set table), ``watch`` (stack events), ``protect`` (termination protection,
stack policy, rollback triggers), ``errors`` (one-line messages), ``main`` (the
command).
"""
