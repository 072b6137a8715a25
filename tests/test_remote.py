"""Remotes for real: a local directory remote and a real S3 server on 127.0.0.1. Round trips
(`dvc repro` -> `dvc push` -> fresh `git clone` -> `dvc pull`) give byte-identical outputs."""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import (
    BIN,
    REPO,
    clone_with_public_remote,
    commit_all,
    http_server,
    point_at_shared_data,
    run,
    working_tree_copy,
)
from tests.s3server import S3Server, client_env

DVC = str(BIN / "dvc")
SECRET_KEYS = re.compile(
    r"(access_key|secret|session_token|password|passwd|token|credential)", re.IGNORECASE
)
AWS_KEY_ID = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")


def test_committed_dvc_config_holds_no_secrets():
    tracked = subprocess.run(
        ["git", "ls-files", ".dvc"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert ".dvc/config" in tracked and ".dvc/config.local" not in tracked
    for rel in tracked:
        text = (REPO / rel).read_text()
        assert not AWS_KEY_ID.search(text), rel
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith(("#", ";")) or "=" not in stripped:
                continue
            key = stripped.split("=", 1)[0].strip()
            assert not SECRET_KEYS.search(key), f"{rel}: secret-looking key {key!r}"
    config = configparser.ConfigParser()
    config.read(REPO / ".dvc/config")
    assert config["core"]["remote"] == "public"
    public = config["'remote \"public\"'"]
    assert public["url"].startswith("https://")  # read-only, no credentials
    s3 = config["'remote \"s3\"'"]  # the section as DVC writes it: ['remote "s3"']
    assert s3["url"].startswith("s3://")
    assert "endpointurl" not in s3  # per user, in config.local


def digests(repo: Path) -> dict[str, str]:
    """sha256 of every published file (packages, features, catalogue, exports, report)."""
    out = {}
    for sub in ("datasets", "catalogue", "exports", "reports"):
        for p in sorted((repo / sub).rglob("*")):
            if p.is_file() and "raw" not in p.relative_to(repo).parts:
                out[str(p.relative_to(repo))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def pushed(tmp_path_factory, shared_data):
    """A repository with all four datasets built from the real tables, committed and pushed to
    its default local remote (a folder beside the checkout, shared by clones placed there)."""
    parent = tmp_path_factory.mktemp("remote")
    repo = working_tree_copy(parent / "repo")
    point_at_shared_data(repo, shared_data)
    run([DVC, "repro"], cwd=repo, timeout=900)
    commit_all(repo, "build all datasets")
    # a maintainer's own default remote, in the uncommitted config.local
    run([DVC, "remote", "default", "--local", "local"], cwd=repo)
    out = run([DVC, "push"], cwd=repo).stdout
    assert "pushed" in out
    assert (parent / "mosaiq-dvc-storage").is_dir()
    return repo


@pytest.mark.slow
def test_local_remote_round_trip(pushed):
    cloud = run([DVC, "status", "--cloud", "--json"], cwd=pushed).stdout.strip()
    assert json.loads(cloud or "{}") == {}
    clone = pushed.parent / "clone-local"
    run(["git", "clone", "-q", str(pushed), str(clone)], cwd=pushed.parent)
    assert not (clone / "datasets/ARAUS/data/clips.csv").exists()  # not in git
    run([DVC, "pull", "-r", "local"], cwd=clone)
    assert digests(clone) == digests(pushed)
    proc = run([str(BIN / "mosaiq"), "validate"], cwd=clone)
    assert "validation passed" in proc.stdout
    assert "ARAUS      valid" in proc.stdout
    # and nothing is left to reproduce in the clone
    assert "up to date" in run([DVC, "status"], cwd=clone).stdout


@pytest.mark.slow
def test_a_fresh_clone_pulls_from_the_http_remote_without_credentials(tmp_path):
    """The default remote is read-only HTTP: serve a pushed folder remote with a real HTTP
    server on 127.0.0.1; a fresh clone pulls everything and validates, with no credentials."""
    import os

    repo = working_tree_copy(tmp_path / "repo")
    run([DVC, "repro"], cwd=repo, timeout=900)
    if run(["git", "status", "--porcelain"], cwd=repo).stdout.strip():
        commit_all(repo, "build")  # (a checkout whose dvc.lock is current has nothing to add)
    served = tmp_path / "served"
    run([DVC, "remote", "modify", "--local", "local", "url", str(served)], cwd=repo)
    run([DVC, "push", "-r", "local"], cwd=repo)
    with http_server(served) as url:
        clone = clone_with_public_remote(repo, tmp_path / "clone", url)
        assert not (clone / "exports/parquet/ISD/clips.parquet").exists()
        # the clone's own default remote points at the test server (the committed one is the
        # project's public URL); no credentials anywhere
        env = {k: "" for k in os.environ if k.startswith("AWS_")}
        pull = run([DVC, "pull"], cwd=clone, env=env, timeout=600)
        assert "fetched" in pull.stdout or "added" in pull.stdout.lower(), pull.stdout
        assert digests(clone) == digests(repo)
        assert "validation passed" in run([str(BIN / "mosaiq"), "validate"], cwd=clone).stdout
        assert "up to date" in run([DVC, "status"], cwd=clone).stdout


def _use_s3(repo: Path, server: S3Server, path: str) -> None:
    run([DVC, "remote", "modify", "s3", "url", f"s3://{server_bucket()}/{path}"], cwd=repo)
    run([DVC, "remote", "modify", "--local", "s3", "endpointurl", server.endpoint], cwd=repo)


def server_bucket() -> str:
    from tests.s3server import BUCKET

    return BUCKET


@pytest.fixture
def s3(tmp_path):
    server = S3Server(tmp_path / "s3-data").start()
    yield server
    server.stop(kill=True)


@pytest.mark.slow
def test_s3_round_trip_and_a_dead_server(pushed, s3, tmp_path):
    env = client_env()
    _use_s3(pushed, s3, "round-trip")
    commit_all(pushed, "s3 remote for the test server")
    run([DVC, "push", "-r", "s3"], cwd=pushed, env=env)
    cloud = run([DVC, "status", "--cloud", "-r", "s3", "--json"], cwd=pushed, env=env)
    assert json.loads(cloud.stdout.strip() or "{}") == {}
    clone = tmp_path / "clone-s3"
    run(["git", "clone", "-q", str(pushed), str(clone)], cwd=tmp_path)
    _use_s3(clone, s3, "round-trip")
    run([DVC, "pull", "-r", "s3"], cwd=clone, env=env)
    assert digests(clone) == digests(pushed)
    assert "validation passed" in run([str(BIN / "mosaiq"), "validate"], cwd=clone).stdout

    # the server goes away: a pull fails fast, with a message that says so
    again = tmp_path / "clone-dead"
    run(["git", "clone", "-q", str(pushed), str(again)], cwd=tmp_path)
    _use_s3(again, s3, "round-trip")
    s3.stop(kill=True)
    started = time.monotonic()
    proc = run([DVC, "pull", "-r", "s3"], cwd=again, env=env, check=False, timeout=120)
    elapsed = time.monotonic() - started
    assert proc.returncode != 0
    assert elapsed < 30, f"a dead server took {elapsed:.0f} s to report"
    message = (proc.stdout + proc.stderr).lower()
    assert "127.0.0.1" in message or "connect" in message or "failed to pull" in message


def _count(pattern: str, text: str) -> int:
    m = re.search(pattern, text)
    return int(m.group(1)) if m else 0


@pytest.mark.slow
def test_an_interrupted_push_resumes_without_resending(tmp_path):
    """Kill the server in the middle of a push, restart it on the same data: the second push
    sends only what had not arrived."""
    repo = working_tree_copy(tmp_path / "repo")
    bulk = repo / "bulk"
    bulk.mkdir()
    rng = np.random.default_rng(0)
    n = 4000
    for i in range(n):
        np.save(bulk / f"e{i:05d}.npy", rng.standard_normal(64).astype(np.float16))
    run([DVC, "add", "-q", "bulk"], cwd=repo)
    server = S3Server(tmp_path / "s3-data").start()
    try:
        env = client_env()
        _use_s3(repo, server, "resume")
        push = subprocess.Popen(
            [DVC, "push", "-r", "s3", "-j", "4", "bulk.dvc"],
            cwd=repo,
            env={**__import__("os").environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert server.wait_for_data(50_000), "nothing arrived at the server"
        server.stop(kill=True)
        first, _ = push.communicate(timeout=300)
        assert push.returncode != 0, f"the push finished before the interruption:\n{first}"
        server = S3Server(tmp_path / "s3-data").start()  # same data folder
        _use_s3(repo, server, "resume")
        second = run([DVC, "push", "-r", "s3", "bulk.dvc"], cwd=repo, env=env, timeout=600).stdout
        pushed = _count(r"(\d+) files? pushed", second)
        assert 0 < pushed < n + 1, second  # + 1: the directory's own listing object
        cloud = run([DVC, "status", "--cloud", "-r", "s3", "--json", "bulk.dvc"], cwd=repo, env=env)
        assert json.loads(cloud.stdout.strip() or "{}") == {}
        # and an interrupted pull resumes the same way
        clone = tmp_path / "clone"
        commit_all(repo, "bulk")
        run(["git", "clone", "-q", str(repo), str(clone)], cwd=tmp_path)
        _use_s3(clone, server, "resume")
        pull = subprocess.Popen(
            [DVC, "pull", "-r", "s3", "-j", "4", "bulk.dvc"],
            cwd=clone,
            env={**__import__("os").environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while (
            time.monotonic() < deadline
            and sum(1 for p in (clone / ".dvc/cache").rglob("*") if p.is_file()) < 200
        ):
            time.sleep(0.05)
        server.stop(kill=True)
        out, _ = pull.communicate(timeout=300)
        assert pull.returncode != 0, f"the pull finished before the interruption:\n{out}"
        have = sum(1 for _ in (clone / ".dvc/cache").rglob("*") if _.is_file())
        server = S3Server(tmp_path / "s3-data")
        server.start()
        _use_s3(clone, server, "resume")
        rest = run([DVC, "pull", "-r", "s3", "bulk.dvc"], cwd=clone, env=env, timeout=600).stdout
        fetched = _count(r"(\d+) files? fetched", rest)
        assert 0 < fetched <= n + 1 - have + 1, rest
        assert sorted(p.name for p in (clone / "bulk").iterdir()) == sorted(
            p.name for p in bulk.iterdir()
        )
    finally:
        server.stop(kill=True)


class HangingServer:
    """Accepts TCP connections on 127.0.0.1 and never answers: a stuck endpoint, not a closed
    port."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def hanging():
    server = HangingServer()
    yield server
    server.close()


def _tiny_repo(root: Path) -> Path:
    """A git + DVC repository with the committed remote configuration and one tracked file."""
    root.mkdir()
    run(["git", "init", "-q"], cwd=root)
    run([DVC, "init", "-q"], cwd=root)
    for name in (".dvc/config", ".dvc/aws-retries.ini"):
        (root / name).write_bytes((REPO / name).read_bytes())
    (root / "ratings.csv").write_text("clip,score\na,1\n")
    run([DVC, "add", "-q", "ratings.csv"], cwd=root)
    return root


def test_a_hanging_s3_endpoint_fails_within_30_s(hanging, tmp_path):
    """The committed `s3` remote config bounds every wait: a push and a pull (run side by side)
    against a server that accepts connections and never answers stop with a timeout error in
    under 30 s."""
    # only the committed configuration: none of the machine's own AWS settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | client_env()
    procs = {}
    for command in ("push", "pull"):
        repo = _tiny_repo(tmp_path / command)
        endpoint = f"http://127.0.0.1:{hanging.port}"
        run([DVC, "remote", "modify", "--local", "s3", "endpointurl", endpoint], cwd=repo)
        if command == "pull":
            shutil.rmtree(repo / ".dvc" / "cache")
            (repo / "ratings.csv").unlink()
        procs[command] = (
            time.monotonic(),
            subprocess.Popen(
                [DVC, command, "-r", "s3"],
                cwd=repo,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
        )
    for command, (started, proc) in procs.items():
        message, _ = proc.communicate(timeout=120)
        elapsed = time.monotonic() - started
        assert proc.returncode != 0, message
        assert elapsed < 30, f"{command} took {elapsed:.0f} s against a hanging endpoint"
        assert "timeout" in message.lower() and str(hanging.port) in message, message
