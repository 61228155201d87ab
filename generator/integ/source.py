"""The source zip the pipelines start from: the sample application at the root, ``buildspecs/``
beside it (what the README's ``zip`` commands build)."""
from __future__ import annotations

import zipfile
from pathlib import Path

EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".venv", ".git"}


def _files(folder: Path):
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not (set(rel.parts) & EXCLUDED_DIRS) and path.suffix != ".pyc":
            yield path, rel


def build_zip(root: Path, target: Path, app_dir="examples/sample-app", buildspecs="buildspecs") -> Path:
    root = Path(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for path, rel in _files(root / app_dir):
            z.write(path, rel.as_posix())
        for path, rel in _files(root / buildspecs):
            z.write(path, (Path(buildspecs) / rel).as_posix())
    return target


def upload(s3, path: Path, bucket: str, key: str) -> str:
    """Put the zip; the object's version id (the pipeline execution's source revision), or ``None``."""
    extra = encryption_arguments(s3, bucket)
    with open(path, "rb") as body:
        answer = s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
    return answer.get("VersionId")


def encryption_arguments(s3, bucket: str) -> dict:
    """Name the bucket's own default KMS key on the upload: the bucket policies deny uploads that
    are not encrypted under it (an upload naming only ``aws:kms`` would be refused)."""
    from botocore.exceptions import ClientError

    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError:
        return {}
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm", "").startswith("aws:kms") and default.get("KMSMasterKeyID"):
            return {"ServerSideEncryption": default["SSEAlgorithm"], "SSEKMSKeyId": default["KMSMasterKeyID"]}
    return {}
