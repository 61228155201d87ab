import pytest

from tests.helpers import all_templates


@pytest.fixture(scope="session")
def templates():
    """Every committed template, parsed (short forms turned into long-form intrinsics)."""
    return all_templates()
