"""The benchmark: the task file, leakage-free deterministic splits, metrics, baselines (the
ARAUS label-mean figure), submissions, the task loader and the figures."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

import mosaiq
from mosaiq.benchmark import metrics as M
from mosaiq.benchmark.baselines import LEADERBOARD, README_END, README_START, run_all
from mosaiq.benchmark.evaluate import evaluate
from mosaiq.benchmark.splits import iterative_stratification, verify_checksums, write_splits
from mosaiq.benchmark.tasks import load_tasks, read_split
from mosaiq.errors import MosaiqError
from tests.conftest import BIN, PAQ_WORDS, REPO, copy_project, run


@pytest.fixture(scope="module")
def bench(built_all, tmp_path_factory):
    """All four datasets built from the real tables, with splits and baselines."""
    root = tmp_path_factory.mktemp("bench") / "project"
    shutil.copytree(built_all, root)
    copy_project(root, "benchmark/tasks.yaml", "benchmark/tasks.schema.json")
    write_splits(root)
    run_all(root, bootstrap=200)
    return root


def test_the_task_file_validates_and_bad_ones_are_refused(tmp_path):
    config = load_tasks(REPO)
    assert {
        "isd_iso",
        "araus_iso",
        "satp_crosslingual",
        "delta_sources",
        "transfer_isd_to_satp",
    } <= set(config["tasks"])
    root = copy_project(tmp_path / "p", "benchmark/tasks.yaml", "benchmark/tasks.schema.json")
    path = root / "benchmark/tasks.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["tasks"]["isd_iso"]["metrics"].append("accuracy_at_5")
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(MosaiqError, match=r"tasks/isd_iso/metrics/6: 'accuracy_at_5' is not"):
        load_tasks(root)
    spec["tasks"]["isd_iso"]["metrics"].pop()
    spec["tasks"]["isd_iso"]["split"] = "nowhere"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(MosaiqError, match="no split named 'nowhere'"):
        load_tasks(root)


def test_no_group_crosses_train_and_test(bench):
    isd = read_split(bench, "isd_location")
    clips = mosaiq.load("ISD", "clips", root=bench).set_index("clip_id")
    locations = clips.loc[isd["unit_id"], "LocationID"].to_numpy()
    assert (isd["group"].to_numpy() == locations).all()
    by_split = isd.groupby("split")["group"].apply(set)
    assert not by_split["train"] & by_split["test"]
    assert len(by_split["test"]) >= 2
    fold_groups = isd[isd["split"] == "train"].groupby("group")["fold"].nunique()
    assert (fold_groups == 1).all()  # a location stays in one cross-validation fold
    satp = read_split(bench, "satp_recording")
    s = satp.groupby("split")["group"].apply(set)
    assert not s["train"] & s["test"]
    assert satp["unit_id"].str.split("|").str[0].eq(satp["group"]).all()
    araus = read_split(bench, "araus_official")
    assert (araus["split"] == "test").sum() == 48
    assert set(araus.loc[araus["split"] == "train", "fold"]) == {1, 2, 3, 4, 5}


def test_delta_split_keeps_a_recording_together_and_is_stratified_on_the_labels(bench):
    from mosaiq.sources.delta import LABEL_COLUMNS

    split = read_split(bench, "delta_labels").set_index("unit_id")
    clips = mosaiq.load("DeLTA", "clips", root=bench).set_index("clip_id").loc[split.index]
    # the group is the base recording: "2cv11_1.mp3" and "2cv11_2.mp3" are one recording
    base = clips["recording"].str.rsplit("_", n=1).str[0]
    assert (split["group"] == base).all()
    sides = split.groupby(base)["split"].nunique()
    assert (sides == 1).all() and (base.value_counts() > 1).sum() > 1000
    assert (split[split["split"] == "train"].groupby("group")["fold"].nunique() == 1).all()
    labels = clips[list(LABEL_COLUMNS.values())].astype(float)
    test = split["split"] == "test"
    assert abs(test.mean() - 0.15) < 0.01
    common = labels.columns[labels.sum() >= 40]
    gap = (labels[test.to_numpy()][common].mean() - labels[common].mean()).abs()
    assert gap.max() < 0.02, gap.sort_values().tail()


def test_iterative_stratification_on_a_small_matrix():
    rng = np.random.default_rng(0)
    y = (rng.random((400, 5)) < [0.5, 0.2, 0.1, 0.05, 0.02]).astype(int)
    part = iterative_stratification(y, [0.25, 0.75], np.random.default_rng(1))
    assert abs((part == 0).mean() - 0.25) < 0.02
    for j in range(5):
        expected = y[:, j].sum() * 0.25
        assert abs(y[part == 0, j].sum() - expected) <= 1.5
    # groups of 1-3 units: the test set gets a quarter of the units, not of the groups
    sizes = rng.integers(1, 4, size=400)
    part = iterative_stratification(y * sizes[:, None], [0.25, 0.75], rng, sizes)
    assert abs(sizes[part == 0].sum() / sizes.sum() - 0.25) < 0.02


def test_splits_are_deterministic_and_checksummed(bench, tmp_path):
    before = {p.name: p.read_bytes() for p in (bench / "benchmark/splits").iterdir()}
    write_splits(bench)
    after = {p.name: p.read_bytes() for p in (bench / "benchmark/splits").iterdir()}
    assert before == after
    assert verify_checksums(bench) == []
    empty = hashlib.sha256(b"").hexdigest()
    pinned = dict(
        reversed(line.split())
        for line in (bench / "benchmark/splits/SHA256SUMS").read_text().splitlines()
    )
    assert set(pinned) == {
        "araus_official.csv",
        "delta_labels.csv",
        "isd_location.csv",
        "satp_recording.csv",
        "overlap.csv",
    }
    assert empty not in pinned.values()
    (bench / "benchmark/splits/isd_location.csv").write_bytes(b"unit_id,group,split,fold\n")
    assert verify_checksums(bench) == ["isd_location.csv"]
    write_splits(bench)


def test_araus_label_mean_reproduces_the_published_test_figures(bench):
    result = json.loads((bench / "benchmark/results/araus_iso.json").read_text())
    mse = result["baselines"]["label_mean"]["metrics"]
    # ARAUS paper: predicting the training-label mean gives test MSE 0.1192 (ISOPleasant) and
    # 0.0971 (ISOEventful) on the 48 per-stimulus means
    assert round(mse["mean_ISOPleasant"]["mse"], 4) == 0.1192
    assert round(mse["mean_ISOEventful"]["mse"], 4) == 0.0971
    assert result["n_test"] == 48
    skipped = result["baselines"]["elastic_net_acoustic"]["status"]
    assert skipped.startswith("skipped")  # the re-assembled copy has no acoustic indicators
    published = {(f["baseline"], f["target"]): f for f in result["published"]["figures"]}
    assert published["label_mean", "mean_ISOPleasant"]["value"] == 0.1192
    assert published["label_mean", "mean_ISOPleasant"]["protocol"] == "same"
    board = (bench / LEADERBOARD).read_text()
    assert "| araus_iso | label_mean | ISOPleasant | mse | 0.1192 (" in board
    assert "| 0.1192 | same |" in board


def test_baselines_are_byte_reproducible(bench):
    files = sorted(
        [
            *(bench / "benchmark/results").glob("*.json"),
            *(bench / "benchmark/predictions").rglob("*.csv"),
        ]
    )
    first = {p: p.read_bytes() for p in files}
    run_all(bench, bootstrap=200)
    assert {p: p.read_bytes() for p in files} == first
    ridge = json.loads((bench / "benchmark/results/isd_iso.json").read_text())
    summary = ridge["baselines"]["ridge_acoustic"]["summary"]
    assert summary["mse"] < ridge["baselines"]["label_mean"]["summary"]["mse"]
    for target, chosen in ridge["baselines"]["ridge_acoustic"]["chosen"].items():
        lo, hi = chosen["grid"]
        assert lo < chosen["alpha"] < hi, target  # no penalty on the edge of its grid


def test_metrics_on_hand_made_values():
    y = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    p = pd.DataFrame({"a": [0.0, 1.0, 2.0, 5.0]})
    m = M.score(["a"], ["mse", "rmse", "mae", "r2", "pearson_r"], y, p)["a"]
    assert m["mse"] == 1.0 and m["rmse"] == 1.0 and m["mae"] == 0.5
    assert m["r2"] == pytest.approx(1 - 1.0 / 1.25)
    assert m["pearson_r"] == pytest.approx(np.corrcoef([0, 1, 2, 3], [0, 1, 2, 5])[0, 1])
    iso = pd.DataFrame({"mean_ISOPleasant": [0.5, -0.5, 0.2], "mean_ISOEventful": [0.1, 0.1, -0.3]})
    guess = pd.DataFrame({"mean_ISOPleasant": [0.1, 0.2, 0.3], "mean_ISOEventful": [0.2, 0.2, 0.2]})
    q = M.score(list(iso.columns), ["quadrant_accuracy"], iso, guess)
    assert q["iso_plane"]["quadrant_accuracy"] == pytest.approx(1 / 3)
    from sklearn.metrics import average_precision_score, f1_score

    lab = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    sc = np.array([[0.9, 0.2], [0.4, 0.7], [0.6, 0.3], [0.1, 0.6]])
    got = M.labels(lab, sc)
    assert got["macro_f1"] == pytest.approx(f1_score(lab, sc >= 0.5, average="macro"))
    assert got["mean_average_precision"] == pytest.approx(
        np.mean([average_precision_score(lab[:, j], sc[:, j]) for j in range(2)])
    )


def test_bootstrap_intervals_hold_the_estimate_and_few_clusters_are_flagged(bench):
    result = json.loads((bench / "benchmark/results/isd_iso.json").read_text())
    b = result["baselines"]["ridge_acoustic"]
    for target in ("mean_ISOPleasant", "mean_ISOEventful"):
        lo, hi = b["ci95"][target]["mse"]
        assert lo <= b["metrics"][target]["mse"] <= hi
    locations = result["n_test_groups"]
    assert b["ci95_clusters"] == locations < 20
    assert f"only {locations} clusters" in b["ci95_note"]
    araus = json.loads((bench / "benchmark/results/araus_iso.json").read_text())
    assert araus["baselines"]["label_mean"]["ci95_clusters"] == 48
    assert "ci95_note" not in araus["baselines"]["label_mean"]
    assert f"| 322 ({locations} †) |" in (bench / LEADERBOARD).read_text()


def _submission(bench, task, tmp_path, edit=None):
    pred = pd.read_csv(bench / f"benchmark/predictions/{task}/label_mean.csv", dtype=str)
    if edit is not None:
        pred = edit(pred)
    path = tmp_path / "submission.csv"
    pred.to_csv(path, index=False)
    return path


def test_a_valid_submission_scores_like_the_baseline(bench, tmp_path):
    report = evaluate(bench, _submission(bench, "satp_iso", tmp_path), "satp_iso", bootstrap=100)
    base = report["baselines"]["label_mean"]
    assert report["metrics"]["mean_ISOPleasant"]["mse"] == base["mean_ISOPleasant"]["mse"]
    out = run(
        [
            str(BIN / "mosaiq"),
            "evaluate",
            str(tmp_path / "submission.csv"),
            "--task",
            "satp_iso",
            "--bootstrap",
            "100",
        ],
        cwd=bench,
    ).stdout
    assert "label_mean" in out and "language_mean" in out and "95% CI" in out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda p: p.drop(columns=["mean_ISOEventful"]),
            r"missing column\(s\) \['mean_ISOEventful'\]",
        ),
        (lambda p: pd.concat([p, p.iloc[[0]]]), r"row \d+, column 'unit_id': .* more than once"),
        (
            lambda p: p.assign(unit_id=p["unit_id"].where(p.index != 3, "SATP_X|eng")),
            r"row 5, column 'unit_id': 'SATP_X\|eng' is not a test unit",
        ),
        (lambda p: p.iloc[1:], r"1 test units have no prediction"),
        (
            lambda p: p.assign(mean_ISOPleasant=p["mean_ISOPleasant"].where(p.index != 2, "high")),
            r"row 4, column 'mean_ISOPleasant': 'high' is not a number",
        ),
        (
            lambda p: p.assign(mean_ISOEventful=p["mean_ISOEventful"].where(p.index != 0, "1.5")),
            r"row 2, column 'mean_ISOEventful': 1.5 is outside the target range \[-1, 1\]",
        ),
    ],
    ids=[
        "missing-column",
        "duplicate",
        "unknown-unit",
        "missing-unit",
        "not-a-number",
        "out-of-range",
    ],
)
def test_bad_submissions_are_refused_with_their_place(bench, tmp_path, edit, message):
    path = _submission(bench, "satp_iso", tmp_path, edit)
    with pytest.raises(MosaiqError, match=message):
        evaluate(bench, path, "satp_iso", bootstrap=100)
    proc = run(
        [str(BIN / "mosaiq"), "evaluate", str(path), "--task", "satp_iso"], cwd=bench, check=False
    )
    assert proc.returncode == 1 and "submission.csv" in proc.stderr


def test_satp_crosslingual_compares_gains_on_the_same_target(bench):
    result = json.loads((bench / "benchmark/results/satp_crosslingual.json").read_text())
    comp = result["comparison"]["targets"]
    for target, v in comp.items():
        base = result["baselines"]
        assert v["mse_label_mean"] == base["label_mean"]["metrics"][target]["mse"]
        assert v["mse_language_mean"] == base["language_mean"]["metrics"][target]["mse"]
        assert v["relative_gain"] == pytest.approx(
            (v["mse_label_mean"] - v["mse_language_mean"]) / v["mse_label_mean"]
        )
    assert "relative gain" in (bench / LEADERBOARD).read_text()


def test_straightlining_exclude_is_a_sensitivity_analysis(bench):
    """The packages keep all-midpoint responses; the leaderboard reports the baselines with
    them excluded, recomputed from the responses."""
    result = json.loads((bench / "benchmark/results/isd_iso.json").read_text())
    sens = result["sensitivity"]["straightlining_exclude"]
    responses = mosaiq.load("ISD", "responses", root=bench)
    paq = responses[[f"PAQ{i}_{w}" for i, w in enumerate(PAQ_WORDS, 1)]]
    flat = paq.eq(3).all(axis=1)
    assert flat.sum() > 0
    split = read_split(bench, "isd_location").set_index("unit_id")
    test_ids = split.index[split["split"] == "test"]
    kept = responses[~flat]
    _X, y = mosaiq.load_task("isd_iso", split="test", root=bench)
    left = kept[kept["clip_id"].isin(y.index)].groupby("clip_id")["ISOPleasant"].mean().dropna()
    assert sens["n_test"] == len(left) <= len(y) <= len(test_ids)
    label_mean = sens["baselines"]["label_mean"]["metrics"]["mean_ISOPleasant"]["mse"]
    train_y = kept[kept["clip_id"].isin(split.index[split["split"] == "train"])]
    _Xt, yt = mosaiq.load_task("isd_iso", split="train", root=bench)
    train_means = (
        train_y[train_y["clip_id"].isin(yt.index)].groupby("clip_id")["ISOPleasant"].mean()
    )
    expected = float(((left - train_means.dropna().mean()) ** 2).mean())
    assert label_mean == pytest.approx(expected, abs=1e-9)
    main = result["baselines"]["label_mean"]["metrics"]["mean_ISOPleasant"]["mse"]
    assert label_mean != pytest.approx(main, abs=1e-6)  # the midpoint responses do move it
    assert "Sensitivity: straight-lining" in (bench / LEADERBOARD).read_text()


def test_load_task_returns_inputs_and_targets(bench):
    X, y, groups = mosaiq.load_task("isd_iso", split="train", root=bench, with_groups=True)
    from mosaiq.sources.isd import ACOUSTIC_COLUMNS

    assert list(X.columns) == [name for _s, name, _u, _d in ACOUSTIC_COLUMNS]
    assert list(y.columns) == ["mean_ISOPleasant", "mean_ISOEventful"]
    assert X.index.equals(y.index) and groups.index.equals(y.index)
    X_test, _y_test = mosaiq.load_task("isd_iso", split="test", root=bench)
    assert not set(groups["group"]) & set(
        mosaiq.load("ISD", "clips", root=bench).set_index("clip_id").loc[X_test.index, "LocationID"]
    )
    from sklearn.linear_model import Ridge

    Ridge().fit(X.fillna(X.median()), y).predict(X_test.fillna(X.median()))
    Xs, ys = mosaiq.load_task("satp_crosslingual", split="test", root=bench)
    assert list(Xs.columns) == ["language"] and len(ys.columns) == 4


def test_figures(bench):
    from mosaiq.benchmark.plots import make_all

    made = {p.name for p in make_all(bench)}
    assert {
        "circumplex_ISD.png",
        "circumplex_ARAUS.png",
        "circumplex_SATP.png",
        "circumplex_ISD_locations.png",
        "pred_vs_obs_araus_iso.png",
        "delta_label_prevalence.png",
    } <= made
    for name in made:
        data = (bench / "benchmark/plots" / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000


def test_the_readme_leaderboard_is_the_generated_one():
    text = (REPO / "README.md").read_text()
    board = text.split(README_START, 1)[1].split(README_END, 1)[0].strip()
    assert board == (REPO / LEADERBOARD).read_text().strip()
