"""Python functions the templates carry inline (``Code.ZipFile``): real modules, unit-tested here."""
from __future__ import annotations

from pathlib import Path

#: CloudFormation's limit for ``ZipFile`` source (AWS::Lambda::Function Code.ZipFile).
INLINE_LIMIT = 4096


def source(name: str) -> str:
    """The text of ``generator/functions/<name>.py``, refused when over the inline limit."""
    text = (Path(__file__).parent / f"{name}.py").read_text()
    if len(text.encode()) > INLINE_LIMIT:
        raise ValueError(f"generator/functions/{name}.py is {len(text.encode())} bytes, over CloudFormation's "
                         f"{INLINE_LIMIT}-byte inline code limit; shorten it")
    return text
