import pytest

import classifiers


@pytest.fixture(scope="session")
def clf():
    return classifiers.load()
