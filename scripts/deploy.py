#!/usr/bin/env python3
"""Deploy stacks through change sets: ``scripts/deploy.py --env dev --stack foundation``.

A thin entry point over ``generator/deploy`` (same as ``cfn-delivery deploy``); run it with
the project's venv: ``.venv/bin/python scripts/deploy.py --help``.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["deploy", *sys.argv[1:]]))
