"""SATP, the Soundscape Attributes Translation Project: everything special about its workbook.

Raw input, in ``datasets/SATP/raw/``: the sheet ``Main Merge`` of the official workbook
(``SATP Dataset v1.5.xlsx``, Zenodo record 18715282; v1.4: 10993139), or a CSV export of that
sheet. Columns: Language, Recording, Participant, Age, Gender, PAQ1..PAQ8 (0-100 slider, in
circumplex order), loud, Institution, sequence_id.

Clip = one of the 27 binaural recordings; the per-recording-and-language means (the unit of
cross-lingual comparison) are the package's ``clip_languages`` table. Ratings stay on their
published 0-100 scale; the build adds the 1-5 values beside them (``PAQk_*_1to5``, the linear
map 0 -> 1, 100 -> 5) and the ISO coordinates on the native scale (range 100, midpoint 50).

Quirks, each handled explicitly:

- values above 100 (200, 534, 500) are typing errors that cannot be repaired: the response is
  excluded (``rating_out_of_range``);
- missing PAQs fall under the shared rule (``incomplete_paq``);
- participant FER_5M04 is two people (54 rows: 27 recordings twice, one male and one female,
  interleaved): they are told apart by gender and flagged ``duplicated_participant_id``;
- the spa/UCH cohort has non-integer slider values: kept as published, flagged
  ``non_integer_rating``;
- Age mixes numbers and ranges ("<20", "20-25", "20s"): numbers become bands, ranges that fit no
  band stay empty and are flagged ``age_range_not_banded``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.harmonise import age_band
from mosaiq.paq import PAQ_IDS, SLIDER_100
from mosaiq.schema import CLIP_FK, Part, TableSpec
from mosaiq.sources.base import (
    RawFile,
    Source,
    SourceTables,
    add_missing_columns,
    duplicated_key_error,
    exclusions_frame,
    field,
    join_flags,
    link_audio,
    locate_raw,
    map_codes,
    numeric,
    raw_input,
    read_tabular,
    reject_first,
    require_columns,
    require_dataset_param,
    source_rows,
    strip_text,
)
from mosaiq.sources.checks import check_ages

DATASET_ID = "SATP"
KNOWN_ROWS = 19_088
"""Rows of the Main Merge sheet of SATP v1.4 (Zenodo 10993139). No sha256 of the official
workbook is known for certain here (the copy at hand is a CSV export of the sheet): the build
checks the row count; another version (v1.5 included, if its count differs) is accepted only with
its sha256 declared in params.yaml (build.SATP.sha256)."""
SCALE = SLIDER_100
SHEET = "Main Merge"
PAQ_COLUMNS = {f"PAQ{i}": name for i, name in enumerate(PAQ_IDS, 1)}
REQUIRED_COLUMNS = (
    "Language",
    "Recording",
    "Participant",
    "Age",
    "Gender",
    *PAQ_COLUMNS,
    "loud",
    "Institution",
    "sequence_id",
)

REASONS = {
    "rating_out_of_range": "a PAQ rating outside the 0-100 slider (a typing error that cannot "
    "be repaired)",
}
GENDER = {"Male": "male", "Female": "female"}
SHARED_PARTICIPANT_IDS = ("FER_5M04",)
"""Participant IDs of the published file that two people share (told apart by gender)."""

CLIP_MEAN_PARTS: list[Part] = ["clip_counts", "paq_means", "paq_means_1to5", "iso_means"]
MEAN_COLUMNS: tuple[str, ...] = ()

GENDER_VALUES = tuple(sorted(GENDER.values()))
"""The normalised gender codes this source can give."""

TABLES = {
    "clips": TableSpec(
        name="clips",
        title="SATP clips (one binaural recording)",
        parts=[
            "clip_keys",
            field(
                "recording",
                "string",
                "SATP recording code (CT301 is also an ISD GroupID).",
                constraints={"required": True},
            ),
            "clip_assets",
            *CLIP_MEAN_PARTS,
            "provenance",
        ],
        primary_key=["clip_id"],
    ),
    "responses": TableSpec(
        name="responses",
        title="SATP responses (one participant rating one recording)",
        parts=[
            "response_keys",
            field("institution", "string", "Institution that ran the cohort."),
            field("cohort", "string", "Language and institution of the cohort (lang-INST)."),
            "paq_ratings",
            "paq_ratings_1to5",
            "iso_response",
            field(
                "perceived_loudness",
                "number",
                "Perceived loudness, 0-100 slider.",
                constraints={"minimum": 0, "maximum": 100},
            ),
            field("sequence_id", "integer", "Presentation sequence of the cohort's session."),
            "demographics",
            "response_source",
            "provenance",
        ],
        primary_key=["response_id"],
        foreign_keys=CLIP_FK,
    ),
}


RESPONSES = RawFile(
    "responses",
    "SATP Dataset v1.5.xlsx",
    "build.SATP.responses",
    rows=(KNOWN_ROWS,),
    version="SATP v1.4, sheet Main Merge",
    layouts=(REQUIRED_COLUMNS,),
)


def read(root: Path, params: dict[str, Any]) -> SourceTables:
    path = locate_raw(root, params, DATASET_ID, RESPONSES, "the Main Merge sheet")
    sheet = require_dataset_param(params, DATASET_ID).get("sheet", SHEET)
    # PAQs stay text: an excluded rating is quoted as written
    raw = read_tabular(path, sheet=sheet, numbers=("loud", "sequence_id"))
    shown = path.name if path.suffix.lower() == ".csv" else f"{path.name} [{sheet}]"
    require_columns(raw, REQUIRED_COLUMNS, file=shown)
    rows = source_rows(len(raw))
    text = {
        c: strip_text(raw[c])
        for c in ("Language", "Recording", "Participant", "Institution", "Gender", "Age")
    }
    for col in ("Language", "Recording", "Participant"):
        reject_first(text[col].isna(), "empty value", file=shown, column=col)
    gender = map_codes(raw["Gender"], GENDER, "gender", file=shown, column="Gender")

    paq = numeric(raw, list(PAQ_COLUMNS), file=shown).rename(columns=PAQ_COLUMNS)
    extra = numeric(raw, ["loud"], file=shown).join(
        numeric(raw, ["sequence_id"], file=shown, integer=True)
    )
    participant, twin = _participants(text, shown)
    clip_id = "SATP_" + text["Recording"]
    response_id = participant + "_" + text["Recording"]
    duplicated_key_error(response_id, file=shown, column="Participant")

    age_num = check_ages(text["Age"], file=shown, column="Age", values=raw["Age"])
    flags = {
        "duplicated_participant_id": twin,
        "non_integer_rating": (paq.notna() & (paq % 1 != 0)).any(axis=1),
        "age_range_not_banded": text["Age"].notna() & age_num.isna(),
    }
    responses = pd.DataFrame(
        {
            "response_id": response_id,
            "clip_id": clip_id,
            "dataset_id": DATASET_ID,
            "participant_id": participant,
            "language": text["Language"],
            "institution": text["Institution"],
            "cohort": text["Language"] + "-" + text["Institution"],
        }
    )
    responses = pd.concat([responses, paq], axis=1)
    responses["perceived_loudness"] = extra["loud"]
    responses["sequence_id"] = extra["sequence_id"].astype("Int64")
    responses["age_band"] = age_band(age_num)
    responses["gender"] = gender
    responses["source_row"] = rows
    responses["source_flags"] = join_flags(flags, raw.index)

    bad, exclusions = _out_of_range(raw, paq, responses, shown)
    clips = pd.DataFrame({"clip_id": clip_id, "recording": text["Recording"]})
    clips = clips.drop_duplicates("clip_id").assign(dataset_id=DATASET_ID)
    clips = add_missing_columns(
        clips,
        strings=("audio_asset", "video_asset", "video_asset_id", "source_flags"),
        numbers=("start_s", "end_s"),
    )
    clips = link_audio(
        clips,
        (params.get("build", {}).get(DATASET_ID) or {}).get("audio_asset"),
        setting="build.SATP.audio_asset",
    )
    notes = {
        "non_integer_cohorts": sorted(
            responses.loc[responses["source_flags"].str.contains("non_integer", na=False), "cohort"]
            .unique()
            .tolist()
        )
    }
    return SourceTables(
        responses=responses[~bad].reset_index(drop=True),
        clips=clips.reset_index(drop=True),
        exclusions=exclusions,
        raw_rows=len(raw),
        source_file=shown,
        inputs=[raw_input(path, len(raw))],
        notes=notes,
    )


def _out_of_range(
    raw: pd.DataFrame, paq: pd.DataFrame, responses: pd.DataFrame, shown: str
) -> tuple[np.ndarray, pd.DataFrame]:
    """Responses with a rating outside the slider (typing errors): the mask and their exclusions."""
    out_of_range = (paq < SCALE.minimum) | (paq > SCALE.maximum)
    bad = out_of_range.any(axis=1).to_numpy()
    detail = [
        "; ".join(
            f"{src} = {raw[src].iloc[i]}"
            for src, col in PAQ_COLUMNS.items()
            if out_of_range[col].iloc[i]
        )
        + f" (scale {SCALE})"
        for i in np.flatnonzero(bad)
    ]
    exclusions = exclusions_frame(
        pd.DataFrame(
            {
                "source_file": shown,
                "source_row": responses["source_row"].to_numpy()[bad],
                "source_key": responses["response_id"].to_numpy()[bad],
                "reason_code": "rating_out_of_range",
                "detail": detail,
            }
        )
    )
    return bad, exclusions


def _participants(text: dict[str, pd.Series], shown: str) -> tuple[pd.Series, pd.Series]:
    """SATP_<Participant>, with a participant ID used by two people told apart by gender."""
    base = "SATP_" + text["Participant"]
    per_recording = pd.DataFrame({"p": base, "r": text["Recording"]}).duplicated(keep=False)
    # Only the participant ID known to be shared by two people is split; any other repeated
    # Participant + Recording is a duplicate row, refused with both rows named.
    unknown = per_recording & ~text["Participant"].isin(SHARED_PARTICIPANT_IDS)
    if unknown.any():
        duplicated_key_error(
            (base + "_" + text["Recording"]).where(unknown), file=shown, column="Participant"
        )
    twins = set(base[per_recording])
    twin = base.isin(twins)
    if not twins:
        return base, twin
    gender = text["Gender"].fillna("unknown").str.lower()
    split = base.where(~twin, base + "-" + gender)
    still = pd.DataFrame({"p": split, "r": text["Recording"]}).duplicated(keep=False)
    if still.any():
        duplicated_key_error(split + "_" + text["Recording"], file=shown, column="Participant")
    return split, twin


MEDIA = {
    "unit": "one of the 27 binaural stimuli (about 30 s), the clip's `recording`",
    "audio_asset": "build.SATP.audio_asset, e.g. '{recording}.wav'; the file names of the "
    "published SATP audio are not known for certain here, so nothing is linked by default",
    "window": "start_s 0, end_s empty: the whole stimulus",
    "calibration": "declared in media.SATP.calibration",
}

SOURCE = Source(
    dataset_id=DATASET_ID,
    read=read,
    raw_files=(RESPONSES,),
    scale=SCALE,
    reasons=REASONS,
    tables=TABLES,
    clip_mean_parts=CLIP_MEAN_PARTS,
    gender_values=GENDER_VALUES,
    id_rules={
        "clip_id": "SATP_<Recording>",
        "response_id": "<participant_id>_<Recording>",
        "participant_id": "SATP_<Participant> (-<gender> for an ID shared by two people)",
    },
    mean_columns=MEAN_COLUMNS,
    media=MEDIA,
)
