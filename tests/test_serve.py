"""`mosaiq serve` in a real browser: the database built from the four real packages, the server
started on a free port, pages loaded in headless Chromium (Debian's chromium and chromedriver)
and checked on the rendered DOM. Screenshots are saved (``MOSAIQ_SCREENSHOTS`` names the folder;
by default the test's temporary folder) for a person to look at."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import BIN, REPO, free_port, in_ci

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]
ISD_CLIP = "ISD_CamdenTown_CamdenTown1_CT101"


@pytest.fixture(scope="module")
def site(built_all: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the four-dataset project with its splits, figures and database."""
    from mosaiq.benchmark.plots import make_all
    from mosaiq.benchmark.splits import write_splits
    from mosaiq.db import build_database

    root = tmp_path_factory.mktemp("serve") / "project"
    shutil.copytree(built_all, root)
    for rel in ("benchmark/tasks.yaml", "benchmark/tasks.schema.json"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, root / rel)
    write_splits(root)
    make_all(root)
    build_database(root)
    return root


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "mosaiq"), "serve", "--root", str(site), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{base}/-/versions.json", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read() if proc.stdout else ""
                    pytest.fail(f"mosaiq serve did not start:\n{out}")
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        if in_ci():
            pytest.fail("chromium and chromedriver are missing: .ci/run installs them")
        pytest.skip("chromium / chromedriver not installed (apt-get install chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tmp_path_factory.mktemp("chromium-profile")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("MOSAIQ_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def _facet_counts(driver, column: str) -> dict[str, int]:
    """The facet's values and counts as rendered (Datasette's facet list)."""
    counts = {}
    for li in _css(driver, f'.facet-info[data-column="{column}"] li'):
        links = li.find_elements("css selector", "a")
        if not links:  # "..." when a facet has more values than shown
            continue
        label = links[0].text.strip()
        rest = li.text.strip().removeprefix(label).strip()
        if rest.replace(",", "").isdigit():
            counts[label] = int(rest.replace(",", ""))
    return counts


def _package(site: Path, dataset: str, table: str) -> pd.DataFrame:
    return pd.read_csv(site / f"datasets/{dataset}/data/{table}.csv", dtype="string")


def test_the_landing_page_is_the_catalogue(server, browser, site, shots):
    browser.get(server + "/")
    assert browser.current_url == f"{server}/mosaiq/catalogue"
    catalogue = pd.read_csv(site / "catalogue/data/datasets.csv", dtype="string")
    rows = _css(browser, "table.rows-and-columns tbody tr")
    assert len(rows) == len(catalogue) == 20
    status = _facet_counts(browser, "build_status")
    assert status == catalogue["build_status"].value_counts().to_dict()
    assert status["catalogue only: no MOSAIQ package"] == 16
    # the figures are reachable from here
    links = [a.get_attribute("href") for a in _css(browser, "a")]
    assert f"{server}/-/figures" in links
    browser.save_screenshot(str(shots / "catalogue.png"))


def test_a_clip_row_links_to_its_responses(server, browser, site, shots):
    clips = _package(site, "ISD", "clips").set_index("clip_id")
    responses = _package(site, "ISD", "responses")
    browser.get(f"{server}/mosaiq/clips/{ISD_CLIP}")
    cell = _css(browser, "td.col-n_responses")
    assert [c.text for c in cell] == [clips.loc[ISD_CLIP, "n_responses"]]
    assert _css(browser, "td.col-LocationID")[0].text == clips.loc[ISD_CLIP, "LocationID"]
    # the foreign key responses.clip_id -> clips.clip_id, seen from the clip
    expected = int((responses["clip_id"] == ISD_CLIP).sum())
    href = f"{server}/mosaiq/responses?clip_id={ISD_CLIP}"
    back = [a for a in _css(browser, "a") if a.get_attribute("href") == href]
    assert back, "no link to the clip's responses"
    assert back[0].text.replace(",", "") == f"{expected} rows"
    browser.save_screenshot(str(shots / "clip_row.png"))
    back[0].click()
    assert len(_css(browser, "table.rows-and-columns tbody tr")) == expected


def test_responses_facets_and_the_clip_link(server, browser, site, shots):
    started = time.perf_counter()
    browser.get(f"{server}/mosaiq/responses")
    print(f"responses (59,282 rows) first page: {time.perf_counter() - started:.2f} s")
    expected = {
        ds: len(_package(site, ds, "responses")) for ds in ("ISD", "ARAUS", "SATP", "DeLTA")
    }
    assert _facet_counts(browser, "dataset_id") == expected
    languages = pd.concat(
        _package(site, ds, "responses")["language"] for ds in ("ISD", "ARAUS", "SATP", "DeLTA")
    ).value_counts()
    shown = _facet_counts(browser, "language")
    assert shown and all(shown[lang] == languages[lang] for lang in shown)
    # the first row's clip_id is a link to the clip's own page
    first = _css(browser, "table.rows-and-columns tbody tr td.col-clip_id a")[0]
    clip_id = first.text
    assert first.get_attribute("href") == f"{server}/mosaiq/clips/{clip_id}"
    # column descriptions and units come from the schemas
    th = _css(browser, 'th[data-column="ISOPleasant"]')[0]
    assert "ISO" in (th.get_attribute("data-column-description") or "")
    browser.save_screenshot(str(shots / "responses.png"))
    first.click()
    assert browser.current_url == f"{server}/mosaiq/clips/{clip_id}"
    assert _css(browser, "td.col-clip_id")[0].text == clip_id


def test_units_and_location_facet_on_clips(server, browser, site):
    browser.get(f"{server}/mosaiq/clips?dataset_id=ISD")
    th = _css(browser, 'th[data-column="LAeq_dBA"]')[0]
    assert "[unit: dBA]" in th.get_attribute("data-column-description")
    clips = _package(site, "ISD", "clips")
    shown = _facet_counts(browser, "LocationID")
    counts = clips["LocationID"].value_counts()
    assert shown and all(shown[loc] == counts[loc] for loc in shown)


def test_canned_queries_agree_with_the_packages(server, browser, site, shots):
    browser.get(f"{server}/mosaiq/exclusions_by_reason")
    cells = [
        [td.text for td in tr.find_elements("css selector", "td")]
        for tr in _css(browser, "table.rows-and-columns tbody tr")
    ]
    shown = {(ds, reason): int(n.replace(",", "")) for ds, reason, n in cells}
    expected = {}
    for ds in ("ISD", "ARAUS", "SATP", "DeLTA"):
        for reason, n in _package(site, ds, "exclusions")["reason_code"].value_counts().items():
            expected[(ds, reason)] = int(n)
    assert shown == expected
    browser.save_screenshot(str(shots / "exclusions_by_reason.png"))
    browser.get(f"{server}/mosaiq/clips_per_location")
    rows = _css(browser, "table.rows-and-columns tbody tr")
    assert len(rows) == _package(site, "ISD", "clips")["LocationID"].nunique()
    browser.get(f"{server}/mosaiq/iso_means_per_location_and_language")
    header = [th.text for th in _css(browser, "table.rows-and-columns th")]
    assert header[:4] == ["dataset_id", "location", "language", "responses"]
    assert _css(browser, "table.rows-and-columns tbody tr")


def test_figures_are_served_and_load(server, browser, site, shots):
    browser.get(f"{server}/-/figures")
    images = _css(browser, "figure.mosaiq-figure img")
    expected = sorted(p.name for p in (site / "benchmark/plots").glob("*.png"))
    assert expected and [i.get_attribute("alt") for i in images] == expected
    for img in images:
        assert browser.execute_script("return arguments[0].naturalWidth", img) > 0
    browser.save_screenshot(str(shots / "figures.png"))


def test_the_server_listens_on_loopback_only(server):
    port = int(server.rsplit(":", 1)[1])
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:
                listening.append(address)
    assert listening == ["0100007F"]  # 127.0.0.1, and no other address


def test_the_database_has_the_schemas_keys_types_and_every_row(site):
    import json

    import sqlite_utils

    db = sqlite_utils.Database(site / "exports/mosaiq.db")
    for table in ("clips", "responses", "exclusions", "clip_languages"):
        expected = sum(len(_package(site, ds, table)) for ds in ("ISD", "ARAUS", "SATP", "DeLTA"))
        assert db[table].count == expected, table
    assert db["catalogue"].count == 20
    fks = {(fk.column, fk.other_table, fk.other_column) for fk in db["responses"].foreign_keys}
    assert fks == {("clip_id", "clips", "clip_id"), ("dataset_id", "catalogue", "dataset_id")}
    assert db["clips"].pks == ["clip_id"]
    assert db["clip_languages"].pks == ["clip_id", "language"]
    types = db["clips"].columns_dict
    assert types["n_responses"] is int and types["mean_ISOPleasant"] is float
    assert types["LocationID"] is str
    orphans = db.execute(
        "select count(*) from responses r left join clips c on c.clip_id = r.clip_id "
        "where c.clip_id is null"
    ).fetchone()[0]
    assert orphans == 0
    meta = json.loads((site / "exports/mosaiq.metadata.json").read_text())
    tables = meta["databases"]["mosaiq"]["tables"]
    assert "[unit: sone]" in tables["clips"]["columns"]["N5_sone"]
    assert tables["responses"]["facets"] == ["dataset_id", "language", "angle_set"]
    assert set(meta["databases"]["mosaiq"]["queries"]) == {
        "clips_per_location",
        "iso_means_per_location_and_language",
        "exclusions_by_reason",
    }


def test_a_failed_database_build_keeps_the_old_one(built_isd, tmp_path):
    from mosaiq.db import build_database
    from mosaiq.errors import MosaiqError

    root = tmp_path / "project"
    shutil.copytree(built_isd, root)
    db, meta = build_database(root)
    before = db.read_bytes(), meta.read_bytes()
    responses = root / "datasets/ISD/data/responses.csv"
    lines = responses.read_text().splitlines(keepends=True)
    responses.write_text("".join([*lines, lines[1]]))  # a duplicated response_id
    with pytest.raises(MosaiqError, match="responses"):
        build_database(root)
    assert (db.read_bytes(), meta.read_bytes()) == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["mosaiq.db", "mosaiq.metadata.json"]


def test_serve_without_a_database_says_how_to_build_it(project):
    from mosaiq.errors import MosaiqError
    from mosaiq.serve import make_datasette

    with pytest.raises(MosaiqError, match=r"exports/mosaiq.db is not built: run `mosaiq db`"):
        make_datasette(project)
