"""Operate what the pipelines deployed: ``cfn-delivery history`` and ``cfn-delivery rollback``.

Modules: ``place`` (an application in an environment, validated against the model, its clients and
the names its deployed stacks export), ``records`` (the deployment history table of the tools
environment), ``targets`` (per application kind: the live version and how to switch it), ``cli`` (the
two commands, registered through ``generator.cli.PLUGINS``). Neither command touches a
CloudFormation stack: they read stack outputs, the history table and the target itself.
"""
