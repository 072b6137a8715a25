"""``mosaiq fetch <DS>``: download a dataset's official raw files into datasets/<DS>/raw/.

Where each file comes from is data, in ``params.yaml`` under ``fetch.<DS>``:

- ``url`` + ``checksum`` (``sha512:...``, ``sha256:...`` or ``md5:...``), for files whose
  checksum the authors publish (ARAUS's data.zip); or
- ``zenodo`` (a record ID) + ``name``: the file's URL and checksum are read from the record's
  metadata (``fetch.zenodo_api``, default https://zenodo.org/api), which publishes an md5 for
  every file.

A download goes to a temporary file, is hashed on the way, and is renamed into place only when
the checksum matches; a mismatch leaves nothing behind. ``extract`` names members of a zip
archive to place beside it. Files already present with the right checksum are not downloaded
again.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mosaiq.errors import MosaiqError
from mosaiq.layout import file_digest
from mosaiq.settings import DATASETS, load_params, param
from mosaiq.sources.base import raw_dir

ZENODO_API = "https://zenodo.org/api"
CHUNK = 1 << 20
TIMEOUT_S = 60


@dataclass
class Download:
    name: str
    url: str
    checksum: str  # "<algorithm>:<hex digest>"
    extract: list[str] = field(default_factory=list)
    unpack: bool = False  # every member into the destination (media archives)


def _get(url: str) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={"User-Agent": "mosaiq-fetch"})
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        raise MosaiqError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise MosaiqError(f"{url}: cannot connect ({getattr(exc, 'reason', exc)})") from None


def _zenodo_file(api: str, record: int | str, name: str) -> tuple[str, str]:
    """URL and checksum of a file of a Zenodo record, from the record's metadata."""
    url = f"{api.rstrip('/')}/records/{record}"
    with _get(url) as response:
        try:
            meta = json.load(response)
        except json.JSONDecodeError as exc:
            raise MosaiqError(f"{url}: not a Zenodo record ({exc})") from None
    for entry in meta.get("files", []):
        if entry.get("key") == name:
            links = entry.get("links", {})
            link = links.get("content") or links.get("self")
            if not link or not entry.get("checksum"):
                raise MosaiqError(f"{url}: file {name!r} has no link or checksum")
            return link, entry["checksum"]
    names = [e.get("key") for e in meta.get("files", [])]
    raise MosaiqError(f"Zenodo record {record} has no file {name!r}; it has {names}")


def plan(params: dict[str, Any], dataset: str, *, media: bool = False) -> list[Download]:
    if dataset not in DATASETS:
        raise MosaiqError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    key = f"fetch.media.{dataset}" if media else f"fetch.{dataset}"
    entries = param(params, key)
    if not entries:
        raise MosaiqError(
            f"params.yaml has no {key} entry: nothing to download "
            + (
                f"(no published address of the {dataset} recordings is known here; place them "
                f"under media.{dataset}.root)"
                if media
                else f"(the {dataset} raw file ships with an installed package)"
            )
        )
    api = param(params, "fetch.zenodo_api", ZENODO_API)
    out = []
    for entry in entries:
        name = entry["name"]
        if "zenodo" in entry:
            url, checksum = _zenodo_file(api, entry["zenodo"], name)
        else:
            url, checksum = entry["url"], entry.get("checksum")
        if not checksum or ":" not in checksum:
            raise MosaiqError(f"fetch.{dataset}: {name} has no checksum ('algorithm:hex')")
        extract = list(entry.get("extract", []))
        out.append(Download(name, url, checksum.lower(), extract, bool(entry.get("unpack"))))
    return out


def _hasher(checksum: str) -> tuple[Any, str]:
    algorithm, _, digest = checksum.partition(":")
    if algorithm not in ("md5", "sha1", "sha256", "sha512"):
        raise MosaiqError(f"unsupported checksum algorithm {algorithm!r}")
    return hashlib.new(algorithm), digest


def file_matches(path: Path, checksum: str) -> bool:
    if not path.is_file():
        return False
    h, digest = _hasher(checksum)
    return file_digest(path, h.name) == digest


def download(item: Download, target: Path) -> None:
    """Download to a temporary file, verify, rename into place; nothing is left on failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.part-{os.getpid()}")
    h, digest = _hasher(item.checksum)
    try:
        with _get(item.url) as response, part.open("wb") as fh:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                h.update(chunk)
                fh.write(chunk)
        if h.hexdigest() != digest:
            raise MosaiqError(
                f"{item.name}: checksum mismatch: expected {item.checksum}, got "
                f"{item.checksum.split(':')[0]}:{h.hexdigest()} (downloaded from {item.url}); "
                "the file was not kept"
            )
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def extract(archive: Path, members: list[str], dest: Path) -> list[Path]:
    """Place the named members of a zip archive (matched by file name) in ``dest``."""
    out = []
    with zipfile.ZipFile(archive) as zf:
        by_name = {Path(n).name: n for n in zf.namelist() if not n.endswith("/")}
        for wanted in members:
            if wanted not in by_name:
                raise MosaiqError(f"{archive.name} has no member {wanted!r}")
            target = dest / wanted
            part = target.with_name(f".{wanted}.part-{os.getpid()}")
            try:
                with zf.open(by_name[wanted]) as src, part.open("wb") as fh:
                    shutil.copyfileobj(src, fh, CHUNK)
                os.replace(part, target)
            finally:
                part.unlink(missing_ok=True)
            out.append(target)
    return out


def unpack(archive: Path, dest: Path) -> int:
    """Every member of a zip archive under ``dest`` (a member that would leave it is refused);
    members already there with the same size are kept. The number of files written."""
    base = dest.resolve()
    written = 0
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            target = (base / info.filename).resolve()
            if not target.is_relative_to(base):
                raise MosaiqError(f"{archive.name}: member {info.filename!r} leaves {dest}")
            if target.is_file() and target.stat().st_size == info.file_size:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(f".{target.name}.part-{os.getpid()}")
            try:
                with zf.open(info) as src, part.open("wb") as fh:
                    shutil.copyfileobj(src, fh, CHUNK)
                os.replace(part, target)
            finally:
                part.unlink(missing_ok=True)
            written += 1
    return written


def media_dir(root: Path, params: dict[str, Any], dataset: str) -> Path:
    value = param(params, f"media.{dataset}.root")
    if not value:
        raise MosaiqError(f"params.yaml media.{dataset}.root is not set")
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else root / p


def fetch(
    root: Path, dataset: str, *, force: bool = False, media: bool = False
) -> list[tuple[Path, str]]:
    """Download (or confirm) every raw file of ``dataset`` (with ``media``: its published audio
    archives, into the media root, unpacked); returns (path, what happened)."""
    params = load_params(root)
    dest = media_dir(root, params, dataset) if media else raw_dir(root, params, dataset)
    done = []
    for item in plan(params, dataset, media=media):
        target = dest / item.name
        if not force and file_matches(target, item.checksum):
            done.append((target, "present, checksum ok"))
        else:
            download(item, target)
            done.append((target, f"downloaded, {item.checksum.split(':')[0]} ok"))
        for path in extract(target, item.extract, dest) if item.extract else []:
            done.append((path, f"extracted from {item.name}"))
        if item.unpack:
            done.append((dest, f"{unpack(target, dest)} files unpacked from {item.name}"))
    return done
