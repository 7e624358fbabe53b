import pytest

from tests.unit.models.families.zoo import family_model

PROMPT = "The cat sat on the mat and the dog ran"
CORRUPT = "The dog sat on the mat and the cat ran"


@pytest.fixture(scope="session")
def families():
    """`families(name)`: (bridge, plain HF model or None), built once per session (zoo caches them)."""
    return family_model
