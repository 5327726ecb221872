"""Collector throughput and p99 latency: 200 concurrent agents uploading batches of 100 summaries.

Each configuration runs a real ``ime-collector serve`` (uvicorn) on 127.0.0.1, with
SQLite and with PostgreSQL (a throw-away cluster with its durable defaults: fsync and
synchronous_commit on), beside a bare Starlette endpoint on the same uvicorn settings
that reads the body and answers 201 without doing anything (the framework's limit on
this machine). The uploads are real: every agent enrolls with a join code first and
its batches are sealed (HPKE) and signed beforehand, so the timed part is only the
HTTP exchange. The load generator is asyncio on keep-alive connections, one per agent,
in this process; it shares the machine's cores with the servers.

    .venv/bin/python benchmarks/bench_collector.py                   # everything (a few minutes)
    .venv/bin/python benchmarks/bench_collector.py --workers 2 --backends bare,postgresql

Needs Debian's postgresql for the PostgreSQL rows (scripts/setup-system installs it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from postgres import Cluster, find_bindir  # noqa: E402

from ime_collector.cli import add_study  # noqa: E402
from ime_collector.settings import POOL_SIZE_ENV, RATE_BURST_ENV  # noqa: E402
from ime_collector.storage import open_storage  # noqa: E402
from ime_wire import joincode, keys, manifest, signing, vocabulary  # noqa: E402
from ime_wire.envelope import BatchContext, batch_plaintext, make_upload  # noqa: E402
from ime_wire.summary import Summary  # noqa: E402
from ime_wire.timebucket import bucket_of, iso  # noqa: E402

BIN = Path(sys.executable).parent


# --- the bare endpoint: same framework, same server, no work --------------------------------


async def _bare(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"stored": True}, status_code=201)


bare_app = Starlette(routes=[Route("/v1/studies/{study_id}/batches", _bare, methods=["POST"]),
                             Route("/healthz", lambda r: JSONResponse({"status": "ok"}))])


# --- servers ----------------------------------------------------------------------------


def _free_port() -> int:
    import socket  # noqa: PLC0415
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited at start")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the server did not come up")


def start_server(kind: str, db_url: str | None, workers: int, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    options = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if kind == "bare":
        command = [str(BIN / "uvicorn"), "bench_collector:bare_app", "--app-dir", str(ROOT / "benchmarks"),
                   "--no-access-log", "--no-server-header", "--log-level", "warning", *options]
    else:
        command = [str(BIN / "ime-collector"), "--db", db_url, "serve", *options]
    env = {**os.environ, RATE_BURST_ENV: "100000", POOL_SIZE_ENV: os.environ.get(POOL_SIZE_ENV, "8")}
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, process)
    return process, url


def _descendants(root: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, todo = {root}, [root]
    while todo:
        parent = todo.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                todo.append(pid)
    return found


def cpu_seconds(roots: list[int]) -> float:
    """User and system CPU of these processes and all their descendants, now (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in {p for root in roots for p in _descendants(root)}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return total / ticks


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- a study, agents and their sealed uploads ----------------------------------------------


@dataclass
class Study:
    signing: Ed25519PrivateKey
    hpke: X25519PrivateKey
    manifest: manifest.Manifest
    manifest_bytes: bytes


def make_study() -> Study:
    signing_key, hpke = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    today = datetime.now(UTC).date()
    m = manifest.Manifest(
        study_id=secrets.token_hex(16), title="Benchmark study", organisation="", contact="", ethics_ref="",
        information="", categories=vocabulary.CATEGORIES,
        slots=tuple(s for c in vocabulary.CATEGORIES for s in vocabulary.SLOTS_FOR[c]),
        collector_url="https://collector.example.org", hpke_public_key=keys.encode_public(hpke.public_key()),
        key_id=keys.key_id(hpke.public_key()), signing_key=keys.encode_public(signing_key.public_key()),
        review_hold_seconds=0, collector_retention_days=30, starts=today.isoformat(),
        ends=(today + timedelta(days=30)).isoformat(), issued_at=iso(datetime.now(UTC)))
    return Study(signing_key, hpke, m, manifest.sign(m, signing_key))


def summaries(count: int) -> list[Summary]:
    start = datetime(2026, 3, 2, tzinfo=UTC)
    kinds = [("purchase", {"product": "laptop", "price_band": "mid"}, "browser"),
             ("travel", {"destination": "Japan", "trip_length": "short", "party": "family"}, "chat"),
             ("health", {"concern": "sleep", "who": "self"}, "office")]
    return [Summary(secrets.token_hex(16), bucket_of(start + timedelta(minutes=15 * i)), kinds[i % 3][2], "en",
                    kinds[i % 3][0], 0.9, kinds[i % 3][1], "intent-en-bench") for i in range(count)]


def enroll_agents(url: str, study: Study, count: int) -> list[tuple[Ed25519PrivateKey, str]]:
    study_id = study.manifest.study_id
    codes = [joincode.new_code() for _ in range(count)]
    expires = iso(datetime.now(UTC) + timedelta(days=1))
    body = json.dumps({"codes": [{"hash": joincode.code_hash(study_id, c), "expires": expires} for c in codes]}).encode()
    target = f"/v1/studies/{study_id}/invites"
    with httpx.Client(base_url=url, timeout=60) as http:
        answer = http.put(target, content=body, headers=signing.sign_request(study.signing, study_id, "PUT", target,
                                                                             body, time.time()))
        answer.raise_for_status()

        def enroll(code: str):
            device = Ed25519PrivateKey.generate()
            request = json.dumps({"code": code, "device_key": keys.encode_public(device.public_key())}).encode()
            path = f"/v1/studies/{study_id}/enrollments"
            reply = http.post(path, content=request,
                              headers=signing.sign_request(device, "new", "POST", path, request, time.time()))
            reply.raise_for_status()
            return device, reply.json()["enrollment_id"]

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(enroll, codes))


def seal_uploads(study: Study, agents, batches: int, per_batch: int) -> tuple[list[list[bytes]], float]:
    """Every agent's uploads as raw HTTP requests; and the agent's CPU seconds to seal and sign one batch."""
    path = f"/v1/studies/{study.manifest.study_id}/batches"
    requests, cpu = [], []
    for device, enrollment_id in agents:
        mine = []
        for _ in range(batches):
            batch = summaries(per_batch)
            started = time.process_time()
            upload = make_upload(batch_plaintext(batch), study.hpke.public_key(),
                                 BatchContext(study.manifest.study_id, enrollment_id, secrets.token_hex(16),
                                              study.manifest.key_id), device)
            body = upload.to_json()
            cpu.append(time.process_time() - started)
            mine.append(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        requests.append(mine)
    return requests, statistics.median(cpu)


# --- the load ----------------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def _load(url: str, requests: list[list[bytes]]) -> tuple[float, list[float], dict[int, int]]:
    host, port = url.removeprefix("http://").split(":")
    connections = [await asyncio.open_connection(host, int(port)) for _ in requests]
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def agent(connection, mine: list[bytes]) -> None:
        reader, writer = connection
        for raw in mine:
            started = time.perf_counter()
            writer.write(raw)
            status = await _read_response(reader)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(agent(c, mine) for c, mine in zip(connections, requests)))
    return time.perf_counter() - started, latencies, statuses


def run_load(url: str, requests, servers: list[int] = ()) -> dict:
    try:  # the load generator shares the cores with the servers: keep it cheap
        import uvloop  # noqa: PLC0415
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    cpu_before = cpu_seconds(list(servers))
    elapsed, latencies, statuses = run(_load(url, requests))
    cpu = cpu_seconds(list(servers)) - cpu_before
    latencies.sort()
    count = len(latencies)
    return {"batches": count, "seconds": elapsed, "per_second": count / elapsed,
            "server_cpu_ms": 1000 * cpu / count,
            "p50_ms": 1000 * latencies[count // 2], "p99_ms": 1000 * latencies[min(count - 1, int(count * 0.99))],
            "statuses": statuses}


# --- one configuration ---------------------------------------------------------------------


def bench(kind: str, workers: int, args, work: Path, cluster: Cluster | None) -> dict:
    study = make_study()
    db_url = None
    if kind == "sqlite":
        db_url = f"sqlite:///{work}/bench-{secrets.token_hex(4)}.db"
    elif kind == "postgresql":
        name = cluster.create_database()
        db_url = cluster.url(name)
    if db_url:
        storage = open_storage(db_url)
        add_study(storage, study.manifest_bytes, "study.json", datetime.now(UTC).date().isoformat())
        storage.close()
    process, url = start_server(kind, db_url, workers, work / f"{kind}-{workers}.log")
    try:
        if kind == "bare":  # the same requests, made against a real collector beforehand would be wasted here
            agents = [(Ed25519PrivateKey.generate(), secrets.token_hex(16)) for _ in range(args.agents)]
        else:
            agents = enroll_agents(url, study, args.agents)
        requests, cpu = seal_uploads(study, agents, args.batches, args.summaries)
        for attempt in range(args.warmup):  # connections, pools and caches warm; not counted
            run_load(url, [mine[:1] for mine in seal_uploads(study, agents, 1, args.summaries)[0]])
        servers = [process.pid] + ([cluster.postmaster_pid()] if kind == "postgresql" else [])
        result = run_load(url, requests, servers)
    finally:
        stop(process)
    result.update(kind=kind, workers=workers, seal_cpu_ms=1000 * cpu, body_kib=len(requests[0][0]) / 1024)
    expected = 201
    if set(result["statuses"]) != {expected}:
        raise SystemExit(f"{kind}: unexpected answers {result['statuses']} (see {work})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--batches", type=int, default=10, help="batches per agent")
    parser.add_argument("--summaries", type=int, default=100, help="summaries per batch")
    parser.add_argument("--workers", default="1,2", help="uvicorn worker processes to try, e.g. 1,2")
    parser.add_argument("--backends", default="bare,sqlite,postgresql")
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()
    backends = args.backends.split(",")
    work = Path(tempfile.mkdtemp(prefix="bench-collector-"))
    cluster = None
    if "postgresql" in backends:
        bindir = find_bindir()
        if bindir is None:
            raise SystemExit("PostgreSQL is not installed: scripts/setup-system")
        cluster = Cluster(bindir, durable=True)
        cluster.start()
    rows = []
    try:
        for workers in [int(w) for w in args.workers.split(",")]:
            for kind in backends:
                row = bench(kind, workers, args, work, cluster)
                rows.append(row)
                print(f"{kind:10} workers={workers}  {row['per_second']:7.0f} batches/s  p50 {row['p50_ms']:6.1f} ms  "
                      f"p99 {row['p99_ms']:6.1f} ms  server CPU {row['server_cpu_ms']:.2f} ms/batch  "
                      f"({row['batches']} batches of {args.summaries}, "
                      f"{row['body_kib']:.0f} KiB each)", flush=True)
    finally:
        if cluster is not None:
            cluster.stop()
    shutil.rmtree(work)  # kept when a run fails, to read its servers' logs
    print()
    print("| server | workers | batches/s | share of the bare endpoint | p50 | p99 | server CPU per batch |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        bare = next((r for r in rows if r["kind"] == "bare" and r["workers"] == row["workers"]), None)
        share = f"{100 * row['per_second'] / bare['per_second']:.0f} %" if bare and row is not bare else "—"
        print(f"| {row['kind']} | {row['workers']} | {row['per_second']:,.0f} | {share} | {row['p50_ms']:.1f} ms "
              f"| {row['p99_ms']:.1f} ms | {row['server_cpu_ms']:.2f} ms |")
    print(f"\nagent CPU to seal and sign one batch of {args.summaries} summaries (median): "
          f"{rows[0]['seal_cpu_ms']:.2f} ms")
    print("server CPU: the server's processes (and PostgreSQL's, for its rows), per batch; load average at the "
          f"end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
