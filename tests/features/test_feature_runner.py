"""The shared feature machinery, part by part: the writer (values, records, checkpoints, resume),
the value stores, and the runner driven by a reader and an encoder of audio shape (a WAV file
read in windows; per-clip named levels, or a fixed-dimension vector)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

import mosaiq
from mosaiq.errors import MosaiqError
from mosaiq.features.frames import resolve_asset
from mosaiq.features.runner import (
    Decoded,
    FeatureRunError,
    Job,
    Summary,
    jobs_of,
    run_feature,
    todo,
)
from mosaiq.features.store import (
    FOLDER_INDEX,
    ArrayStore,
    JsonStore,
    dataset_dir,
    folder_index_text,
    load_vector,
    read_records,
)
from mosaiq.features.writer import FeatureSpec, FeatureWriter, definition_id
from mosaiq.validate import validate_all

RATE = 8000
SPEC = FeatureSpec("audio_level", "psychoacoustic_descriptor", "audio")
VECTOR_SPEC = FeatureSpec("audio_spectrum", "audio_embedding", "audio")


class WavReader:
    """Job -> the clip's segment of a WAV file, cut into one-second windows."""

    def __init__(self, media: Path) -> None:
        self.media = media

    def __call__(self, job: Job) -> Decoded:
        path = resolve_asset(self.media, job.asset or "")
        rate, data = wavfile.read(path)
        start = int((job.start_s or 0) * rate)
        end = int(job.end_s * rate) if job.end_s is not None else len(data)
        segment = data[start:end].astype(np.float64) / 32768
        windows = segment[: len(segment) // rate * rate].reshape(-1, rate)
        return Decoded(
            job.clip_id,
            windows,
            n=len(windows),
            fields={"n_frames": len(windows)},
            provenance={"windows_s": len(windows)},
        )


class LevelEncoder:
    """Windows -> named scalar columns: RMS level in dBFS, mean and max over the windows."""

    def encode(self, batch: Sequence[Decoded]) -> list[dict[str, float]]:
        out = []
        for d in batch:
            level = 20 * np.log10(np.sqrt((d.inputs**2).mean(axis=1)))
            out.append(
                {
                    "Lmean_dBFS": round(float(level.mean()), 6),
                    "Lmax_dBFS": round(float(level.max()), 6),
                }
            )
        return out


class SpectrumEncoder:
    """Windows -> a fixed-dimension vector: the mean magnitude spectrum in 16 bands, unit norm."""

    def encode(self, batch: Sequence[Decoded]) -> list[np.ndarray]:
        out = []
        for d in batch:
            spectrum = np.abs(np.fft.rfft(d.inputs, axis=1)).mean(axis=0)[: RATE // 2]
            bands = spectrum.reshape(16, -1).sum(axis=1)
            out.append(bands / np.linalg.norm(bands))
        return out


def write_tone(path: Path, hz: float, amplitude: float, seconds: int = 3) -> None:
    t = np.arange(seconds * RATE) / RATE
    wavfile.write(path, RATE, (amplitude * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16))


@pytest.fixture
def aproject(built_isd, tmp_path) -> tuple[Path, Path, list[Job]]:
    root = tmp_path / "project"
    shutil.copytree(built_isd, root)
    media = tmp_path / "audio"
    media.mkdir()
    ids = mosaiq.load("ISD", "clips", root=root)["clip_id"].head(5).tolist()
    for i in range(5):
        write_tone(media / f"a{i}.wav", 250 * (i + 1), 0.5 / (i + 1))
    jobs = [Job(cid, f"a{i}.wav", None, None) for i, cid in enumerate(ids)]
    return root, media, jobs


def level_writer(root: Path, mode: str = "append") -> FeatureWriter:
    store = JsonStore(dataset_dir(root, "ISD"), SPEC.name, inline_bytes=2048)
    writer = FeatureWriter(
        root, "ISD", SPEC, {"feature": SPEC.name, "window_s": 1}, store, mode=mode
    )
    writer.provenance = {"method": "RMS level per one-second window"}
    return writer


def test_a_reader_and_an_encoder_of_named_values_make_a_valid_feature(aproject):
    root, media, jobs = aproject
    writer = level_writer(root)
    writer.start()
    summary = run_feature(
        jobs, WavReader(media), LevelEncoder(), writer, Summary("ISD", SPEC.name), batch_units=2
    )
    assert summary.done == 5 and not summary.skipped
    records = read_records(root, "ISD", SPEC.name).set_index("clip_id")
    assert set(records["value_format"]) == {"json"} and set(records["feature_dimension"]) == {2}
    assert set(records["source_modality"]) == {"audio"}
    # a full-scale sine has an RMS of -3.01 dBFS: amplitude 0.5 is -9.03 dBFS, 0.25 is -15.05
    first = json.loads(records.loc[jobs[0].clip_id, "feature_value_json"])
    assert first["Lmean_dBFS"] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=1e-3)
    second = json.loads(records.loc[jobs[1].clip_id, "feature_value_json"])
    assert second["Lmean_dBFS"] == pytest.approx(20 * np.log10(0.25 / np.sqrt(2)), abs=1e-3)
    prov = json.loads(records.loc[jobs[0].clip_id, "provenance_json"])
    assert prov == {"method": "RMS level per one-second window", "windows_s": 3}
    from mosaiq.features.store import collect

    collect(root, "ISD")
    report = validate_all(root, ["ISD"])
    assert report.valid, [str(e) for p in report.packages for e in p.errors][:5]


def test_a_vector_encoder_is_stored_as_arrays_row_aligned(aproject):
    root, media, jobs = aproject
    store = ArrayStore(dataset_dir(root, "ISD"), VECTOR_SPEC.name, "shards", "float32")
    writer = FeatureWriter(root, "ISD", VECTOR_SPEC, {"feature": "spectrum"}, store)
    writer.start()
    run_feature(
        jobs,
        WavReader(media),
        SpectrumEncoder(),
        writer,
        Summary("ISD", "s"),
        batch_units=3,  # one clip (three windows) per batch
        checkpoint_every=2,
    )
    records = read_records(root, "ISD", VECTOR_SPEC.name)
    assert records["feature_path"].nunique() == 3  # checkpoints of 2, 2 and 1 clips
    base = dataset_dir(root, "ISD")
    for i, rec in enumerate(records.to_dict("records")):
        v = load_vector(base, rec)
        assert v.shape == (16,) and rec["feature_dimension"] == 16 and rec["dtype"] == "float32"
        # each tone (250 Hz steps) falls in its own band of 250 Hz
        assert int(np.argmax(v)) == i + 1


def test_missing_media_is_skipped_or_stops_the_run_and_refused_media_always_stops(aproject):
    root, media, jobs = aproject
    (media / "a2.wav").unlink()
    writer = level_writer(root)
    writer.start()
    with pytest.raises(FeatureRunError, match=r"a2\.wav' not found.*2 clips finished") as exc:
        run_feature(jobs, WavReader(media), LevelEncoder(), writer, Summary("ISD", SPEC.name))
    assert exc.value.summary.failed[0][0] == jobs[2].clip_id
    assert len(read_records(root, "ISD", SPEC.name)) == 2  # what finished before it is kept
    writer = level_writer(root)
    pending = todo(jobs, writer.recorded(), None, summary := Summary("ISD", SPEC.name))
    assert [j.clip_id for j in pending] == [j.clip_id for j in jobs[2:]] and summary.already == 2
    writer.start()
    run_feature(pending, WavReader(media), LevelEncoder(), writer, summary, skip_missing=True)
    assert summary.done == 2 and summary.missing == [jobs[2].clip_id]
    assert len(read_records(root, "ISD", SPEC.name)) == 4
    escaping = [Job(jobs[2].clip_id, "../elsewhere.wav")]
    with pytest.raises(FeatureRunError, match=r"contains '\.\.'"):
        run_feature(
            escaping,
            WavReader(media),
            LevelEncoder(),
            level_writer(root),
            Summary("ISD", "x"),
            skip_missing=True,
        )


def test_any_other_reader_error_stops_the_run(aproject):
    root, media, jobs = aproject
    (media / "a1.wav").write_bytes(b"RIFF not really")
    writer = level_writer(root)
    writer.start()
    with pytest.raises(ValueError, match="Not a WAV file"):
        run_feature(jobs, WavReader(media), LevelEncoder(), writer, Summary("ISD", SPEC.name))


def test_the_writer_resumes_and_cleans_what_an_interrupted_run_left(aproject):
    root, _media, jobs = aproject
    store = JsonStore(dataset_dir(root, "ISD"), SPEC.name, inline_bytes=10)  # values as files
    writer = FeatureWriter(root, "ISD", SPEC, {"feature": SPEC.name}, store)
    writer.start()
    writer.add(Decoded(jobs[0].clip_id, None), {"a": 1.0, "b": 2.0, "c": 3.0})
    assert writer.pending == 1 and writer.flush() == 1 and writer.pending == 0
    # a value stored by a run killed before its records were written
    orphan = store.folder / "orphan.json"
    orphan.write_text("{}")
    again = FeatureWriter(root, "ISD", SPEC, {"feature": SPEC.name}, store)
    assert again.recorded() == {jobs[0].clip_id}
    again.start()
    assert not orphan.exists()
    assert sorted(p.name for p in store.folder.iterdir()) == sorted(
        [FOLDER_INDEX, Path(read_records(root, "ISD", SPEC.name).iloc[0]["feature_path"]).name]
    )
    record = read_records(root, "ISD", SPEC.name).iloc[0]
    assert record["feature_dimension"] == 3 and record["feature_path"].endswith(".json")
    # another definition is recorded beside it; overwrite keeps nothing of the old run
    other = FeatureWriter(root, "ISD", SPEC, {"feature": SPEC.name, "v": 2}, store)
    assert other.recorded() == set()
    fresh = FeatureWriter(root, "ISD", SPEC, {"feature": SPEC.name}, store, mode="overwrite")
    fresh.start()
    assert read_records(root, "ISD", SPEC.name).empty
    # the folder keeps only its index (a DVC output is never an empty folder) with no value in it
    assert [p.name for p in store.folder.iterdir()] == [FOLDER_INDEX]
    assert (store.folder / FOLDER_INDEX).read_text() == folder_index_text(SPEC.name)
    with pytest.raises(MosaiqError, match="mode 'merge'"):
        FeatureWriter(root, "ISD", SPEC, {}, store, mode="merge")


def test_definition_ids_depend_on_the_settings_not_their_order():
    a = definition_id({"model": "ViT-B-32", "frames": 1})
    assert a == definition_id({"frames": 1, "model": "ViT-B-32"}) and len(a) == 16
    assert a != definition_id({"model": "ViT-B-32", "frames": 2})


def test_jobs_of_a_clips_table():
    import pandas as pd

    clips = pd.DataFrame(
        {
            "clip_id": ["a", "b", "c"],
            "video_asset": ["a.mp4", None, "c.mp4"],
            "start_s": [1.0, None, None],
            "end_s": [2.0, None, None],
        }
    )
    assert jobs_of(clips, "video_asset") == [Job("a", "a.mp4", 1.0, 2.0), Job("c", "c.mp4")]
    assert [j.clip_id for j in jobs_of(clips, None)] == ["a", "b", "c"]


def test_the_store_reads_the_record_schema_the_build_wrote(aproject):
    root, _media, _jobs = aproject
    import yaml

    path = root / "datasets/ISD/schemas/features.schema.yaml"
    schema = yaml.safe_load(path.read_text())
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "n_frames"]
    path.write_text(yaml.safe_dump(schema, sort_keys=False))
    writer = level_writer(root)
    writer.start()
    assert "n_frames" not in (root / "datasets/ISD/features/audio_level.csv").read_text()
    writer.add(Decoded("x", None, fields={"n_frames": 1}), {"a": 1.0})
    with pytest.raises(MosaiqError, match=r"not in the FeatureRecord schema: \['n_frames'\]"):
        writer.flush()
    shutil.rmtree(root / "datasets/ISD")
    with pytest.raises(MosaiqError, match="ISD is not built"):
        read_records(root, "ISD", SPEC.name)


def test_a_clip_s_inputs_are_freed_once_encoded_not_kept_until_the_checkpoint(aproject):
    """Memory stays flat in the number of clips: the writer holds records, not frames/audio."""
    import weakref

    root, media, jobs = aproject
    earlier: list[weakref.ref[np.ndarray]] = []
    alive: list[int] = []

    class Watching(LevelEncoder):
        def encode(self, batch: Sequence[Decoded]) -> list[dict[str, float]]:
            alive.append(sum(r() is not None for r in earlier))
            out = super().encode(batch)
            earlier.extend(weakref.ref(d.inputs) for d in batch)
            return out

    writer = level_writer(root)
    writer.start()
    summary = run_feature(
        jobs,
        WavReader(media),
        Watching(),
        writer,
        Summary("ISD", SPEC.name),
        batch_units=1,
        checkpoint_every=100,
    )
    assert summary.done == 5 and len(alive) == 5
    assert alive == [0, 0, 0, 0, 0]
