from __future__ import annotations

import pytest

from collectors import collector_factory  # noqa: F401  (fixtures shared with other areas)
from postgres import postgres_cluster, postgres_database, postgres_url  # noqa: F401

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/collector.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, tmp_path_factory):
    """One real collector process per backend for a whole module: ``(database URL, CollectorProcess)``.

    Tests keep apart by making their own studies."""
    from collectors import start_collector  # noqa: PLC0415

    directory = tmp_path_factory.mktemp(f"collector-{request.param}")
    if request.param == "sqlite":
        url, cluster, name = f"sqlite:///{directory}/collector.db", None, None
    else:
        cluster = request.getfixturevalue("postgres_cluster")
        name = cluster.create_database()
        url = cluster.url(name)
    process = start_collector(url, directory / "collector.log")
    yield url, process
    process.stop()
    if cluster is not None:
        cluster.drop_database(name)


@pytest.fixture
def http(served):
    import httpx  # noqa: PLC0415
    with httpx.Client(base_url=served[1].url, timeout=10) as client:
        yield client


@pytest.fixture
def study(served):
    from studykit import make_study, register_study  # noqa: PLC0415
    made = make_study(served[1].url)
    register_study(served[0], made)
    return made
