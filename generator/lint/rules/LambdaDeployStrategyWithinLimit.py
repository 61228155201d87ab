"""A Lambda deploy action's traffic shifting waits at most 2 days in all (E9123)."""
from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources
from generator.stacks.lambda_pipeline import MAX_DEPLOY_STRATEGY_MINUTES, strategy_problem


def _lambda_deploys(stage):
    """``(index, action)`` of the stage's CodePipeline Lambda deploy actions."""
    actions = stage.get("Actions") if isinstance(stage, dict) else None
    for number, action in enumerate(actions if isinstance(actions, list) else []):
        type_id = action.get("ActionTypeId") if isinstance(action, dict) else None
        if isinstance(type_id, dict) and type_id.get("Category") == "Deploy" and type_id.get("Provider") == "Lambda":
            yield number, action


class LambdaDeployStrategyWithinLimit(CloudFormationLintRule):
    id = "E9123"
    shortdesc = "A Lambda deploy action's DeployStrategy waits at most 2 days in all"
    description = (
        "CodePipeline's Lambda deploy action refuses a DeployStrategy whose total wait is over 2 days "
        f"({MAX_DEPLOY_STRATEGY_MINUTES} minutes): a Canary waits its minutes once, a Linear waits its minutes "
        "between each of ceil(100/percent) shifts. The strategy format (and our parameter's AllowedPattern) admits "
        "longer ones, which fail only when the action runs. Checked on a literal DeployStrategy and on the Default "
        "of the parameter it references."
    )
    source_url = "https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-LambdaDeploy.html"
    tags = ["resources", "codepipeline", "lambda", "deployment", "cfn-delivery"]

    def match(self, cfn):
        parameters = cfn.template.get("Parameters")
        parameters = parameters if isinstance(parameters, dict) else {}
        matches = []
        for logical_id, resource in resources(cfn, "AWS::CodePipeline::Pipeline"):
            stages = properties(resource).get("Stages")
            for index, stage in enumerate(stages if isinstance(stages, list) else []):
                for number, action in _lambda_deploys(stage):
                    config = action.get("Configuration")
                    strategy = config.get("DeployStrategy") if isinstance(config, dict) else None
                    path = ["Resources", logical_id, "Properties", "Stages", index, "Actions", number,
                            "Configuration", "DeployStrategy"]
                    where = "DeployStrategy"
                    if isinstance(strategy, dict) and isinstance(strategy.get("Ref"), str):
                        name = strategy["Ref"]
                        spec = parameters.get(name)
                        if not isinstance(spec, dict) or "Default" not in spec:
                            continue  # the value comes with the deployment: the model check's (paramgen)
                        strategy, where, path = spec["Default"], f"parameter {name}'s Default", \
                            ["Parameters", name, "Default"]
                    if not isinstance(strategy, str):
                        continue
                    problem = strategy_problem(strategy)
                    if problem:
                        matches.append(RuleMatch(path, f"Stage {stage.get('Name')}: action {action.get('Name')}: "
                                                       f"{where} {problem}"))
        return matches
