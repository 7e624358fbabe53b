import pytest

from tests.unit.models.families.zoo import family_model

PROMPT = "The cat sat on the mat and the dog ran"
CORRUPT = "The dog sat on the mat and the cat ran"


@pytest.fixture(scope="session")
def families():
    """`families(name)`: (bridge, plain HF model or None), built once per session (zoo caches them).

    A family the installed transformer-lens has no bridge adapter for (an older release, e.g. 3.9)
    is skipped with that reason; every other failure to load fails the test.
    """
    def load(name):
        try:
            return family_model(name)
        except ValueError as error:
            if "Unsupported architecture" in str(error):
                pytest.skip(f"{name}: {error} in this transformer-lens")
            raise

    return load
