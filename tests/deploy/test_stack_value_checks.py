"""A stack's own checks of its parameter values (``parameter_problems``: what the template's constraints cannot
say) run in deploy's local checks too, so a hand-edited parameter file is refused like a model value: one line
naming the file and the key, exit 2, no API call (``offline_project``: any call would be exit 1)."""
from __future__ import annotations

import json

from generator import cli
from generator.stacks.lambda_pipeline import (DEFAULT_DEPLOY_STRATEGY, DEPLOY_STRATEGY_PATTERN, LambdaPipelineStack,
                                              strategy_problem)

from .conftest import naming_parameters

OVER = "Linear1PercentEvery30Minutes"


def test_deploy_refuses_a_parameter_file_over_the_limit(offline_project):
    """A hand-edited parameter file: deploy's local checks (and ``params validate``) name the file and key."""
    project = offline_project
    project.monkeypatch.chdir(project.root)  # files named relative to the project, as a user sees them
    stack = type("Fake_pipeline", (), {"name": "pipeline", "environments": ("tools",), "requires": (),
                                       "parameter_problems": LambdaPipelineStack.parameter_problems})
    project.stacks.append(stack)
    parameters = naming_parameters()
    parameters["DeployStrategyProd"] = {"Type": "String", "Default": DEFAULT_DEPLOY_STRATEGY,
                                        "AllowedPattern": DEPLOY_STRATEGY_PATTERN}
    project.template("pipeline", json.dumps({"Parameters": parameters,
                                             "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}))
    project.params("tools", "pipeline", {"DeployStrategyProd": OVER})
    result = project.run("--env", "tools", "--stack", "pipeline", "--dry-run")
    assert result.code == 2, result
    assert result.err.strip() == (f"error: params/tools/pipeline.json: Parameters.DeployStrategyProd: "
                                  f"{strategy_problem(OVER)}")
    project.params("tools", "pipeline", {"DeployStrategyProd": "Linear10PercentEvery2Minutes"})
    capsys = project.capsys
    capsys.readouterr()
    assert cli.main(["params", "validate", "--env", "tools"]) == 0, capsys.readouterr().err
