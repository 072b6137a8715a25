"""`mosaiq fetch` against a real HTTP server on 127.0.0.1 serving files from a temporary folder."""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mosaiq.build import build_dataset
from mosaiq.errors import MosaiqError
from mosaiq.fetch import fetch
from tests.conftest import BIN, SHARED_FILES, run, set_params


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def server(tmp_path):
    """(base URL, served folder); stopped after the test."""
    served = tmp_path / "served"
    served.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    httpd.shutdown()
    httpd.server_close()


def _zenodo_record(served: Path, base: str, record: int, files: dict[str, Path]) -> None:
    """A record in the shape of Zenodo's API (files with key, md5 checksum and content link)."""
    entries = []
    for key, path in files.items():
        target = served / "files" / str(record) / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        md5 = hashlib.md5(path.read_bytes()).hexdigest()
        entries.append(
            {
                "key": key,
                "checksum": f"md5:{md5}",
                "links": {"content": f"{base}/files/{record}/{key}"},
            }
        )
    api = served / "api" / "records" / str(record)
    api.parent.mkdir(parents=True, exist_ok=True)
    api.write_text(json.dumps({"id": record, "files": entries}))


def test_fetch_from_a_zenodo_record_then_build(project, shared_data, server):
    base, served = server
    names = {"survey": "survey.csv", "collapsed": "collapsed.csv"}
    _zenodo_record(
        served,
        base,
        7158057,
        {names[k]: shared_data / rel for k, rel in SHARED_FILES["DeLTA"].items()},
    )

    def edit(p):
        p["fetch"]["zenodo_api"] = f"{base}/api"
        p["fetch"]["DeLTA"] = [{"name": n, "zenodo": 7158057} for n in names.values()]
        p["build"]["DeLTA"].update(names)

    set_params(project, edit)
    out = run([str(BIN / "mosaiq"), "fetch", "DeLTA"], cwd=project).stdout
    assert "survey.csv: downloaded, md5 ok" in out
    raw = project / "datasets/DeLTA/raw"
    assert (raw / "survey.csv").read_bytes() == (
        shared_data / SHARED_FILES["DeLTA"]["survey"]
    ).read_bytes()
    assert [p.name for p in raw.iterdir() if p.name.startswith(".")] == []
    again = fetch(project, "DeLTA")
    assert [what for _, what in again] == ["present, checksum ok"] * 2
    assert build_dataset(project, "DeLTA").counts["clips"] == 2890


def test_fetch_a_zip_with_a_published_sha512_and_extract(project, shared_data, server):
    base, served = server
    archive = served / "data.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(shared_data / SHARED_FILES["ARAUS"]["responses"], "data/responses.csv")
    sha512 = hashlib.sha512(archive.read_bytes()).hexdigest()

    def edit(p):
        p["fetch"]["ARAUS"] = [
            {
                "name": "data.zip",
                "url": f"{base}/data.zip",
                "checksum": f"sha512:{sha512}",
                "extract": ["responses.csv"],
            }
        ]

    set_params(project, edit)
    done = {p.name: what for p, what in fetch(project, "ARAUS")}
    assert done == {"data.zip": "downloaded, sha512 ok", "responses.csv": "extracted from data.zip"}
    assert build_dataset(project, "ARAUS").counts["responses"] == 25240


def test_a_checksum_mismatch_keeps_nothing(project, shared_data, server):
    base, served = server
    (served / "data.zip").write_bytes(b"not the archive")

    def edit(p):
        p["fetch"]["ARAUS"] = [
            {"name": "data.zip", "url": f"{base}/data.zip", "checksum": "sha512:" + "0" * 128}
        ]

    set_params(project, edit)
    proc = run([str(BIN / "mosaiq"), "fetch", "ARAUS"], cwd=project, check=False)
    assert proc.returncode == 1
    assert "data.zip: checksum mismatch: expected sha512:000" in proc.stderr
    assert list((project / "datasets/ARAUS/raw").iterdir()) == []


def test_unreachable_server_and_missing_file_are_clear_errors(project, server):
    base, served = server
    set_params(
        project,
        lambda p: p["fetch"].update(
            zenodo_api=f"{base}/api", DeLTA=[{"name": "x.xlsx", "zenodo": 1}]
        ),
    )
    with pytest.raises(MosaiqError, match="HTTP 404"):
        fetch(project, "DeLTA")
    _zenodo_record(served, base, 1, {})
    with pytest.raises(MosaiqError, match=r"Zenodo record 1 has no file 'x.xlsx'"):
        fetch(project, "DeLTA")
