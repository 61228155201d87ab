"""``cfn-delivery integ``: a real-account end-to-end check (deploy, run the pipelines, check health, tear down).

Modules: ``plan`` (what to deploy, in which order), ``preflight`` (credentials, the typed-back
account id, placeholder parameters), ``state`` (the local record that lets teardown resume),
``source`` (the sample application's zip), ``pipeline`` (waiting for an execution), ``health``
(the targets of each wave), ``prereq`` (an image or a secret a stack needs first), ``teardown``,
``report`` and ``cli`` (the subcommand). See docs/integ.md.
"""
