"""cfn-delivery: CloudFormation for delivery pipelines, generated from Python."""

__version__ = "0.1.0"
