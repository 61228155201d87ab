"""Python functions the templates carry inline (``Code.ZipFile``): real modules, unit-tested here."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

from ..core.pycompact import compact

#: CloudFormation zips ``ZipFile`` source into the deployment package, which "cannot exceed 4MB"
#: (AWS::Lambda::Function Code.ZipFile in the resource schema cfn-lint ships; the former 4,096-character
#: limit is gone, https://github.com/aws/aws-cdk/pull/20624). In practice the template budget
#: (generator/budget.py) binds long before; the inline form drops docstrings and comments for it.
INLINE_ZIP_LIMIT = 4 * 1024 * 1024


def zipped_size(text: str) -> int:
    """Bytes of the deployment package CloudFormation makes of ``text`` (one ``index.py``, deflated)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.py", text)
    return len(buffer.getvalue())


def source(name: str) -> str:
    """``generator/functions/<name>.py`` as the template carries it (``core.pycompact.compact``: the same
    statements without docstrings, comments and blank lines), refused when over the inline limit."""
    text = compact((Path(__file__).parent / f"{name}.py").read_text())
    if zipped_size(text) > INLINE_ZIP_LIMIT:
        raise ValueError(f"generator/functions/{name}.py zips to {zipped_size(text)} bytes inline, over "
                         f"CloudFormation's {INLINE_ZIP_LIMIT}-byte ZipFile limit; ship it as a package instead")
    return text
