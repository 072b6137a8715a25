"""DeLTA, Deep Learning Techniques for noise Annoyance detection: everything special about it.

Raw input, in ``datasets/DeLTA/raw/`` (Zenodo record 7158057): the first sheet of
``DeLTA-Survey-Responses_2021-07-28.xlsx`` (one row per rating: recording, participant_id,
start_time, end_time, gender, age, experiment_id, version, tree_node_key, annoyance 1-10, then 24
binary sound-source labels) and of ``DeLTA-collapsed-majority_2022-08-09.xlsx`` (one row per
recording: no_participants, no_sources, annoyance mean, 24 majority labels); or CSV exports.

Clip = one 15 s recording, as listed in the collapsed-majority workbook; its published values
(mean annoyance, number of participants and of sources, majority labels) are kept as published,
in full precision, beside the same quantities recomputed from the published responses. A label is
a clip's majority label when at least half of its raters ticked it (the workbook's rule). A
difference between the workbook and the recomputation is flagged on the clip, never hidden.

- No PAQs: annoyance (1-10) and the 24 labels are the ratings; language is English.
- participant_id 37366 belongs to two people: the participant key is participant_id together
  with tree_node_key (one per participant otherwise).
- Per-person start and end times are not published; age is banded.
- Media: a clip's audio is ``<recording>`` (already ending in ``.mp3``) in the published
  ``DeLTA_mp3_boost_8dB.zip`` (Zenodo record 7158057; the 8 dB boost is the authors'). SOURCES
  note: whether the zip holds the files in a ``DeLTA_mp3_boost_8dB/`` folder is **not known for
  certain** here; the path is the ``build.DeLTA.audio_asset`` pattern (``{recording}`` filled
  in), default ``DeLTA_mp3_boost_8dB/{recording}``. ``start_s`` 0, ``end_s`` empty: the whole
  recording. MP3 has no calibration: the level is declared in ``media.DeLTA.calibration``.
- Ratings without an annoyance value keep their labels and are flagged ``annoyance_missing``;
  responses and clips without any source label are flagged ``no_source_label``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.errors import InputError, spreadsheet_row
from mosaiq.harmonise import age_band, round_derived
from mosaiq.paq import Scale
from mosaiq.schema import CLIP_FK, Part, TableSpec
from mosaiq.sources.base import (
    RawFile,
    Source,
    SourceTables,
    add_missing_columns,
    duplicated_key_error,
    exclusions_frame,
    field,
    first_bad,
    join_flags,
    locate_raw,
    map_codes,
    numeric,
    raw_input,
    read_tabular,
    reject_first,
    require_columns,
    source_rows,
    strip_text,
)
from mosaiq.sources.checks import blank_as_missing, check_ages

DATASET_ID = "DeLTA"
KNOWN_SURVEY_ROWS = 11_650
KNOWN_COLLAPSED_ROWS = 2_890
"""Rows of the two workbooks as downloaded from Zenodo 7158057 (responses, clips). No sha256 of
the official workbooks is known for certain here (the copies at hand are CSV reconstructions):
the build checks the row counts; another version is accepted only with its sha256 declared in
params.yaml (build.DeLTA.sha256, or build.DeLTA.sha256.survey / .collapsed)."""
SCALE = None  # no PAQs
ANNOYANCE = Scale(1, 10)
LANGUAGE = "eng"

LABELS = (
    "Aircraft",
    "Bells",
    "Bird tweet",
    "Bus",
    "Car",
    "Children",
    "Construction",
    "Dog bark",
    "Footsteps",
    "General traffic",
    "Horn",
    "Laughter",
    "Motorcycle",
    "Music",
    "Non-identifiable",
    "Other",
    "Rail",
    "Rustling leaves",
    "Screeching brakes",
    "Shouting",
    "Siren",
    "Speech",
    "Ventilation",
    "Water",
)


def _label_column(label: str) -> str:
    return "src_" + re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


LABEL_COLUMNS = {label: _label_column(label) for label in LABELS}
SURVEY_COLUMNS = (
    "recording",
    "participant_id",
    "gender",
    "age",
    "tree_node_key",
    "annoyance",
    *LABELS,
)
COLLAPSED_COLUMNS = ("recording", "no_participants", "no_sources", "annoyance", *LABELS)
GENDER = {"Male": "male", "Female": "female", "Non-binary": "non_binary"}
REASONS = {
    "recording_not_in_collapsed": "the rated recording is not a clip of the collapsed-majority "
    "workbook",
}
MAJORITY = 0.5
"""A clip's majority label: ticked by at least this share of its raters (workbook rule)."""

MEAN_COLUMNS = ("annoyance", *LABEL_COLUMNS.values())
CLIP_MEAN_PARTS: list[Part] = [
    "clip_counts",
    field(
        "mean_annoyance",
        "number",
        "Mean annoyance over the clip's responses that rate it (recomputed here).",
        constraints={"minimum": 1, "maximum": 10},
    ),
    *(
        field(
            f"mean_{col}",
            "number",
            f"Share of the clip's raters who ticked '{label}' (recomputed here).",
            constraints={"minimum": 0, "maximum": 1},
        )
        for label, col in LABEL_COLUMNS.items()
    ),
]

_BINARY = {"enum": [0, 1]}

GENDER_VALUES = tuple(sorted(GENDER.values()))
"""The normalised gender codes this source can give."""

TABLES = {
    "clips": TableSpec(
        name="clips",
        title="DeLTA clips (one 15 s recording)",
        parts=[
            "clip_keys",
            field(
                "recording",
                "string",
                "Recording file name as in the workbooks.",
                constraints={"required": True},
            ),
            "clip_assets",
            *CLIP_MEAN_PARTS,
            field(
                "annoyance_published",
                "number",
                "Mean annoyance as published in the collapsed-majority workbook.",
                constraints={"minimum": 1, "maximum": 10},
            ),
            field(
                "no_participants",
                "integer",
                "Raters of the clip, as published.",
                constraints={"minimum": 1},
            ),
            field(
                "no_sources",
                "integer",
                "Number of majority source labels, as published.",
                constraints={"minimum": 0},
            ),
            *(
                field(
                    col,
                    "integer",
                    f"Majority label '{label}' as published (1: at least half "
                    "of the raters ticked it).",
                    constraints=_BINARY,
                )
                for label, col in LABEL_COLUMNS.items()
            ),
            "provenance",
        ],
        primary_key=["clip_id"],
    ),
    "responses": TableSpec(
        name="responses",
        title="DeLTA responses (one participant rating one recording)",
        parts=[
            "response_keys",
            field(
                "annoyance",
                "integer",
                "Noise annoyance, 1 (not at all) - 10 (extremely).",
                constraints={"minimum": 1, "maximum": 10},
            ),
            *(
                field(
                    col,
                    "integer",
                    f"Source label '{label}' ticked (1) or not (0).",
                    constraints={"required": True, **_BINARY},
                )
                for label, col in LABEL_COLUMNS.items()
            ),
            field("experiment_version", "integer", "Version of the online experiment."),
            "demographics",
            "response_source",
            "provenance",
        ],
        primary_key=["response_id"],
        foreign_keys=CLIP_FK,
    ),
}


def _stem(recording: pd.Series) -> pd.Series:
    return strip_text(recording).str.replace(r"\.mp3$", "", regex=True, case=False)


AUDIO_ASSET = "DeLTA_mp3_boost_8dB/{recording}"
MEDIA = {
    "unit": "one 15 s MP3 per recording, from DeLTA_mp3_boost_8dB.zip (Zenodo 7158057)",
    "audio_asset": f"build.DeLTA.audio_asset (default {AUDIO_ASSET!r}; folder unconfirmed)",
    "window": "start_s 0, end_s empty: the whole recording",
    "calibration": "declared in media.DeLTA.calibration (MP3 holds no pressure reference)",
}


def link_media(clips: pd.DataFrame, pattern: str | None) -> pd.DataFrame:
    """``audio_asset`` from the pattern (``None``: the default; ``""``: no media linked)."""
    pattern = AUDIO_ASSET if pattern is None else str(pattern)
    out = clips.copy()
    if not pattern:
        out["audio_asset"] = pd.Series(pd.NA, index=out.index, dtype="string")
        return out
    if "{recording}" not in pattern or pattern.replace("{recording}", "").count("{"):
        raise InputError(f"params.yaml build.DeLTA.audio_asset {pattern!r}: use {{recording}}")
    out["audio_asset"] = pd.array(
        [pattern.replace("{recording}", str(r)) for r in out["recording"]], dtype="string"
    )
    out["start_s"] = 0.0
    return out


SURVEY = RawFile(
    "responses",
    "DeLTA-Survey-Responses_2021-07-28.xlsx",
    "build.DeLTA.survey",
    rows=(KNOWN_SURVEY_ROWS,),
    version="DeLTA survey 2021-07-28",
    layouts=(SURVEY_COLUMNS,),
)
COLLAPSED = RawFile(
    "clips",
    "DeLTA-collapsed-majority_2022-08-09.xlsx",
    "build.DeLTA.collapsed",
    rows=(KNOWN_COLLAPSED_ROWS,),
    version="DeLTA collapsed majority 2022-08-09",
    layouts=(COLLAPSED_COLUMNS,),
)


def read(root: Path, params: dict[str, Any]) -> SourceTables:
    survey_path = locate_raw(root, params, DATASET_ID, SURVEY, "the survey workbook")
    collapsed_path = locate_raw(
        root, params, DATASET_ID, COLLAPSED, "the collapsed-majority workbook"
    )
    survey = read_tabular(survey_path, numbers=(*LABELS, "annoyance", "version", "age"))
    collapsed = read_tabular(
        collapsed_path, numbers=(*LABELS, "no_participants", "no_sources", "annoyance")
    )
    require_columns(survey, SURVEY_COLUMNS, file=survey_path.name)
    require_columns(collapsed, COLLAPSED_COLUMNS, file=collapsed_path.name)
    responses = _responses(survey, survey_path.name)
    clips = _clips(collapsed, collapsed_path.name)
    clips = link_media(clips, (params.get("build", {}).get(DATASET_ID) or {}).get("audio_asset"))
    unknown = ~responses["clip_id"].isin(clips["clip_id"])
    exclusions = exclusions_frame(
        pd.DataFrame(
            {
                "source_file": survey_path.name,
                "source_row": responses.loc[unknown, "source_row"],
                "source_key": responses.loc[unknown, "response_id"],
                "reason_code": "recording_not_in_collapsed",
                "detail": "recording " + survey.loc[unknown, "recording"].astype(str),
            }
        )
    )
    rated = clips["clip_id"].isin(responses.loc[~unknown, "clip_id"])
    notes = {}
    if not rated.all():
        notes["collapsed_clips_without_ratings"] = sorted(clips.loc[~rated, "clip_id"])
    return SourceTables(
        responses=responses[~unknown].reset_index(drop=True),
        clips=clips,
        exclusions=exclusions,
        raw_rows=len(survey),
        source_file=survey_path.name,
        clips_file=collapsed_path.name,
        inputs=[
            raw_input(survey_path, len(survey), role="responses"),
            raw_input(collapsed_path, len(collapsed), role="clips"),
        ],
        notes=notes,
    )


def _labels(df: pd.DataFrame, shown: str) -> pd.DataFrame:
    values = numeric(df, list(LABELS), file=shown, integer=True)
    matrix = values.to_numpy()
    bad = ~((matrix == 0) | (matrix == 1))  # a blank cell too
    if bad.any():
        pos = first_bad(bad.any(axis=1))
        col = values.columns[int(np.flatnonzero(bad[pos])[0])]
        raise InputError(
            f"label value {df[col].iloc[pos]!r} is not 0 or 1",
            file=shown,
            row=spreadsheet_row(pos),
            column=col,
        )
    ints = matrix.astype(np.int64)
    return pd.DataFrame(
        {
            LABEL_COLUMNS[label]: pd.arrays.IntegerArray(
                np.ascontiguousarray(ints[:, j]), np.zeros(len(ints), dtype=bool)
            )
            for j, label in enumerate(values.columns)
        },
        index=values.index,
    )


def _responses(survey: pd.DataFrame, shown: str) -> pd.DataFrame:
    rows = source_rows(len(survey))
    annoyance = numeric(survey, ["annoyance"], file=shown, scale=ANNOYANCE, integer=True)
    labels = _labels(survey, shown)
    gender = map_codes(survey["gender"], GENDER, "gender", file=shown, column="gender")
    pid = blank_as_missing(strip_text(survey["participant_id"]))
    reject_first(pid.isna(), "empty participant_id", file=shown, column="participant_id")
    participant = "DeLTA_" + pid + "_" + strip_text(survey["tree_node_key"]).fillna("none")
    stem = _stem(survey["recording"])
    response_id = participant + "_" + stem
    duplicated_key_error(response_id, file=shown, column="participant_id")
    version = (
        numeric(survey, ["version"], file=shown, integer=True)["version"]
        if "version" in survey.columns
        else pd.Series(np.nan, index=survey.index)
    )
    flags = join_flags(
        {
            "annoyance_missing": annoyance["annoyance"].isna(),
            "no_source_label": labels.sum(axis=1).eq(0),
        },
        survey.index,
    )
    out = pd.DataFrame(
        {
            "response_id": response_id,
            "clip_id": "DeLTA_" + stem,
            "dataset_id": DATASET_ID,
            "participant_id": participant,
            "language": LANGUAGE,
            "annoyance": annoyance["annoyance"].astype("Int64"),
        }
    )
    out = pd.concat([out, labels], axis=1)
    out["experiment_version"] = version.astype("Int64")
    ages = numeric(survey, ["age"], file=shown)["age"]
    out["age_band"] = age_band(check_ages(ages, file=shown, column="age", values=survey["age"]))
    out["gender"] = gender
    out["source_row"] = rows
    out["source_flags"] = flags
    return out


def _clips(collapsed: pd.DataFrame, shown: str) -> pd.DataFrame:
    stem = _stem(collapsed["recording"])
    clip_id = "DeLTA_" + stem
    duplicated_key_error(clip_id, file=shown, column="recording")
    counts = numeric(collapsed, ["no_participants", "no_sources"], file=shown, integer=True)
    published = numeric(collapsed, ["annoyance"], file=shown, scale=ANNOYANCE)["annoyance"]
    clips = pd.DataFrame(
        {
            "clip_id": clip_id,
            "dataset_id": DATASET_ID,
            "recording": strip_text(collapsed["recording"]),
            "audio_asset": strip_text(collapsed["recording"]),
            "annoyance_published": published,
            "no_participants": counts["no_participants"].astype("Int64"),
            "no_sources": counts["no_sources"].astype("Int64"),
        }
    )
    clips = pd.concat([clips, _labels(collapsed, shown)], axis=1)
    return add_missing_columns(
        clips,
        strings=("video_asset", "video_asset_id", "source_flags"),
        numbers=("start_s", "end_s"),
    )


def finish_clips(clips: pd.DataFrame) -> pd.DataFrame:
    """Flag clips whose published values differ from the recomputation from the responses."""
    clips = clips.copy()
    share = clips[[f"mean_{c}" for c in LABEL_COLUMNS.values()]].to_numpy(dtype=float)
    majority = (share >= MAJORITY).astype(int)
    published = clips[list(LABEL_COLUMNS.values())].to_numpy(dtype=float)
    # published means carry 6 significant digits
    tolerance = 5e-6 * np.maximum(1.0, clips["annoyance_published"].abs().to_numpy())
    checks = {
        "published_annoyance_differs": np.abs(
            clips["annoyance_published"].to_numpy(dtype=float)
            - clips["mean_annoyance"].to_numpy(dtype=float)
        )
        > tolerance,
        "published_labels_differ": (majority != published).any(axis=1),
        "published_participants_differ": clips["no_participants"].to_numpy(dtype=float)
        != clips["n_responses"].to_numpy(dtype=float),
        "published_sources_differ": clips["no_sources"].to_numpy(dtype=float)
        != published.sum(axis=1),
        "no_source_label": published.sum(axis=1) == 0,
    }
    clips["source_flags"] = join_flags(checks, clips.index)
    clips["mean_annoyance"] = round_derived(clips["mean_annoyance"])
    return clips


SOURCE = Source(
    dataset_id=DATASET_ID,
    read=read,
    raw_files=(SURVEY, COLLAPSED),
    scale=SCALE,
    reasons=REASONS,
    tables=TABLES,
    clip_mean_parts=CLIP_MEAN_PARTS,
    gender_values=GENDER_VALUES,
    id_rules={
        "clip_id": "DeLTA_<recording without .mp3>",
        "response_id": "<participant_id>_<recording without .mp3>",
        "participant_id": "DeLTA_<participant_id>_<tree_node_key>",
    },
    mean_columns=MEAN_COLUMNS,
    label_columns=tuple(LABEL_COLUMNS.values()),
    finish_clips=finish_clips,
    media=MEDIA,
)
