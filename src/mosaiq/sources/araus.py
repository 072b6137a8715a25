"""ARAUS, Affective Responses to Augmented Urban Soundscapes: everything special about its files.

Raw input, in ``datasets/ARAUS/raw/`` (``mosaiq fetch ARAUS`` downloads and checks it):

- the official layout (primary): ``responses.csv`` of ``data.zip`` on DR-NTU
  (doi:10.21979/N9/9OTEVX): participant, fold_r, soundscape, masker, smr, stimulus_index,
  time_taken, is_attention, the 8 PAQs, appropriate, and ~140 psychoacoustic ``*_r`` columns;
  plus ``participants.csv`` when present (only age and gender are used, as bands);
- the re-assembled layout of the copy used in the tests (audio_file_id, fold, participant,
  stimulus_index, the 8 PAQs; fold 0 holds 48 rows already averaged over the 5 test listeners).
  Its redistributor's own columns (ISOPl/ISOEv_soundscaper, acoustic_scene, audio_events,
  soundscaper_split) are ignored.

Clip = one stimulus. Officially a stimulus is (soundscape, masker, SMR); in the copy it is the
stimulus a participant heard (its audio_file_id), and a fold-0 row is one test stimulus. Folds and
stimulus order are kept. Practice, attention and consistency stimuli (fold -1) are excluded, as
the ARAUS authors advise. The test set (fold 0) is evaluated on per-stimulus means, which is what
its clips hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.errors import InputError
from mosaiq.harmonise import age_band
from mosaiq.paq import LIKERT_5, PAQ_FROM_WORDS
from mosaiq.schema import CLIP_FK, Part, TableSpec
from mosaiq.sources.base import (
    RawFile,
    Source,
    SourceTables,
    add_missing_columns,
    duplicated_key_error,
    exclusions_frame,
    field,
    link_audio,
    locate_raw,
    numeric,
    raw_file,
    raw_input,
    read_tabular,
    reject_first,
    require_columns,
    source_rows,
    strip_text,
)
from mosaiq.sources.checks import ID_CHARACTERS, acoustic_constraints, check_ages

DATASET_ID = "ARAUS"
KNOWN_ROWS = 25_248
"""Rows of the re-assembled copy of ARAUS v1's responses (600 x 42 cross-validation rows and 48
test rows already averaged). It is not the official file, so its hash says nothing about that
file: the build checks the copy layout's row count (a copy cut short or of another count is
refused unless its sha256 is declared in params.yaml, build.ARAUS.sha256). The official
responses.csv holds the 5 test listeners' rows and the practice stimuli, so its count differs and
is not known for certain here, nor its sha256 (the published SHA-512 is of data.zip, the archive,
which ``mosaiq fetch`` handles): the official layout is not checked by count."""
SCALE = LIKERT_5
LANGUAGE = "eng"

PAQ_COLUMNS = PAQ_FROM_WORDS  # the files use the plain words
OFFICIAL_COLUMNS = (
    "participant",
    "fold_r",
    "soundscape",
    "masker",
    "smr",
    "stimulus_index",
    "is_attention",
    *PAQ_COLUMNS,
)
COPY_COLUMNS = ("audio_file_id", "fold", "participant", "stimulus_index", *PAQ_COLUMNS)
NUMBER_COLUMNS = (
    *PAQ_COLUMNS,
    "fold",
    "fold_r",
    "smr",
    "stimulus_index",
    "is_attention",
    "appropriate",
)
"""Columns parsed as numbers (with the acoustic ones; the CSV parser reads them so)."""

REASONS = {
    "practice_stimulus": "the practice stimulus shown first to every participant (fold -1)",
    "attention_stimulus": "the attention-check stimulus (fold -1, is_attention = 1)",
    "consistency_stimulus": "the consistency-check stimulus shown last (fold -1)",
}

# Psychoacoustic indicators of the stimulus (official responses.csv, suffix _r), as documented
# by the ARAUS authors; constant within a stimulus, so published per clip.
_PCT = ("05", "10", "20", "30", "40", "50", "60", "70", "80", "90", "95")
_BANDS = (
    "00005_0",
    "00006_3",
    "00008_0",
    "00010_0",
    "00012_5",
    "00016_0",
    "00020_0",
    "00025_0",
    "00031_5",
    "00040_0",
    "00050_0",
    "00063_0",
    "00080_0",
    "00100_0",
    "00125_0",
    "00160_0",
    "00200_0",
    "00250_0",
    "00315_0",
    "00400_0",
    "00500_0",
    "00630_0",
    "00800_0",
    "01000_0",
    "01250_0",
    "01600_0",
    "02000_0",
    "02500_0",
    "03150_0",
    "04000_0",
    "05000_0",
    "06300_0",
    "08000_0",
    "10000_0",
    "12500_0",
    "16000_0",
    "20000_0",
)
_ACOUSTIC_BLOCKS = (
    ("S", ("avg", "max", "argmax"), "acum", "Sharpness (DIN 45692)"),
    ("N", ("avg", "rmc", "max", "argmax"), "sone", "Loudness (ISO 532-1)"),
    ("F", ("avg", "max", "argmax"), "vacil", "Fluctuation strength"),
    ("LA", ("avg", "min", "argmin", "max", "argmax"), "dBA", "A-weighted level (fast)"),
    ("LC", ("avg", "min", "argmin", "max", "argmax"), "dBC", "C-weighted level (fast)"),
    ("R", ("avg", "max", "argmax"), "asper", "Roughness"),
    ("T", ("gavg", "avg", "max", "argmax"), "tu", "Tonality (ECMA 74)"),
)


def _acoustic_fields() -> list[dict[str, Any]]:
    out = []
    for sym, stats, unit, what in _ACOUSTIC_BLOCKS:
        for stat in (*stats, *_PCT):
            name = f"{sym}{stat}_r"
            is_time = stat.startswith("arg")
            desc = (
                f"{what}: time of the {stat[3:]}imum"
                if is_time
                else f"{what}: {'exceeded ' + stat + '% of the time' if stat.isdigit() else stat}"
            )
            out.append(
                field(
                    name,
                    "number",
                    f"{desc}. ARAUS column {name}.",
                    unit="s" if is_time else unit,
                    constraints=acoustic_constraints("s" if is_time else unit),
                )
            )
    for band in _BANDS:
        hz = band.lstrip("0").replace("_", ".")
        out.append(
            field(
                f"M{band}_r",
                "number",
                f"Power in the 1/3-octave band at {hz} Hz.",
                unit="dBA",
                constraints=acoustic_constraints("dBA"),
            )
        )
    return out


ACOUSTIC_FIELDS = _acoustic_fields()
ACOUSTIC_COLUMNS = [f["name"] for f in ACOUSTIC_FIELDS]
NUMBER_COLUMNS = (*NUMBER_COLUMNS, *ACOUSTIC_COLUMNS)

CLIP_MEAN_PARTS: list[Part] = [
    "clip_counts",
    "paq_means",
    "iso_means",
    field(
        "mean_appropriate",
        "number",
        "Mean appropriateness of the soundscape to the place (1 not at all - 5 perfectly); "
        "empty where the source has no appropriateness ratings.",
        constraints={"minimum": 1, "maximum": 5},
    ),
]
MEAN_COLUMNS = ("appropriate",)

_FOLD = {"minimum": 0, "maximum": 5}

GENDER_VALUES = ("female", "male")
"""The normalised gender codes this source can give."""

TABLES = {
    "clips": TableSpec(
        name="clips",
        title="ARAUS clips (one augmented stimulus)",
        parts=[
            "clip_keys",
            field(
                "fold",
                "integer",
                "ARAUS fold: 1-5 cross-validation folds, 0 the test set.",
                constraints={"required": True, **_FOLD},
            ),
            field("soundscape", "string", "Base urban soundscape recording (official layout)."),
            field("masker", "string", "Masker track added to the soundscape (official layout)."),
            field(
                "smr",
                "integer",
                "Soundscape-to-masker ratio in dB (official layout).",
                unit="dB",
                constraints={"enum": [-6, -3, 0, 3, 6]},
            ),
            "clip_assets",
            *CLIP_MEAN_PARTS,
            *ACOUSTIC_FIELDS,
            "provenance",
        ],
        primary_key=["clip_id"],
    ),
    "responses": TableSpec(
        name="responses",
        title="ARAUS responses (one participant rating one stimulus)",
        parts=[
            "response_keys",
            field(
                "fold",
                "integer",
                "ARAUS fold of the response (and of its participant).",
                constraints={"required": True, **_FOLD},
            ),
            field(
                "stimulus_index",
                "integer",
                "Position of the stimulus in the participant's presentation order.",
                constraints={"required": True, "minimum": 1},
            ),
            "paq_ratings",
            "iso_response",
            field(
                "appropriate",
                "number",
                "Appropriateness to the place (1 not at all - 5 perfectly); empty where the "
                "source has none.",
                constraints={"minimum": 1, "maximum": 5},
            ),
            "demographics",
            "response_source",
            "provenance",
        ],
        primary_key=["response_id"],
        foreign_keys=CLIP_FK,
    ),
}


def _participant_key(values: pd.Series) -> pd.Series:
    v = strip_text(values)
    return v.where(v.str.startswith("ARAUS_"), "ARAUS_" + v)


RESPONSES = RawFile(
    "responses",
    "responses.csv",
    "build.ARAUS.responses",
    rows=(KNOWN_ROWS,),
    version="ARAUS v1, 25,248 responses",
    layouts=(OFFICIAL_COLUMNS, COPY_COLUMNS),
)
PARTICIPANTS = RawFile("participants", "participants.csv", "build.ARAUS.participants")


def read(root: Path, params: dict[str, Any]) -> SourceTables:
    path = locate_raw(root, params, DATASET_ID, RESPONSES, "responses.csv")
    raw = read_tabular(path, numbers=NUMBER_COLUMNS)
    official = all(c in raw.columns for c in OFFICIAL_COLUMNS)
    if not official and not all(c in raw.columns for c in COPY_COLUMNS):
        lacks = {
            name: [c for c in cols if c not in raw.columns]
            for name, cols in (("official", OFFICIAL_COLUMNS), ("copy", COPY_COLUMNS))
        }
        closer = min(lacks, key=lambda k: len(lacks[k]))
        raise InputError(
            f"unknown ARAUS layout: missing column(s) {lacks[closer]} of the "
            f"{'official layout' if closer == 'official' else 're-assembled copy'}. "
            "Expected the official columns "
            f"{list(OFFICIAL_COLUMNS)} or the re-assembled copy's {list(COPY_COLUMNS)}. "
            f"Found: {list(raw.columns)}",
            file=path.name,
            column=lacks[closer][0],
        )
    inputs = [raw_input(path, len(raw))]
    # The known count is the re-assembled copy's; the official file's is not known here.
    inputs[0].versions_known = not official
    frame = (_official if official else _copy)(raw, path.name)
    participants_path = raw_file(root, params, DATASET_ID, "participants")
    if official and participants_path is not None and participants_path.is_file():
        people = read_tabular(participants_path)
        inputs.append(raw_input(participants_path, len(people), role="participants"))
        frame = _with_participants(frame, people, participants_path.name)
    responses, clips, exclusions = frame
    clips = link_audio(
        clips,
        (params.get("build", {}).get(DATASET_ID) or {}).get("audio_asset"),
        setting="build.ARAUS.audio_asset",
    )
    return SourceTables(
        responses, clips, exclusions, raw_rows=len(raw), source_file=path.name, inputs=inputs
    )


Frame = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


def _responses_frame(
    raw: pd.DataFrame,
    shown: str,
    participant: pd.Series,
    fold: pd.Series,
    stimulus: pd.Series,
    clip_id: pd.Series,
) -> pd.DataFrame:
    paq = numeric(raw, list(PAQ_COLUMNS), file=shown, scale=SCALE).rename(columns=PAQ_COLUMNS)
    response_id = participant + "_s" + stimulus.astype("Int64").astype(str).str.zfill(2)
    out = pd.DataFrame(
        {
            "response_id": response_id,
            "clip_id": clip_id,
            "dataset_id": DATASET_ID,
            "participant_id": participant,
            "language": LANGUAGE,
            "fold": fold.astype("Int64"),
            "stimulus_index": stimulus.astype("Int64"),
        }
    )
    out = pd.concat([out, paq], axis=1)
    if "appropriate" in raw.columns:
        out["appropriate"] = numeric(raw, ["appropriate"], file=shown, scale=SCALE)["appropriate"]
    else:
        out["appropriate"] = np.nan
    out["age_band"] = pd.Series(pd.NA, index=raw.index, dtype="string")
    out["gender"] = pd.Series(pd.NA, index=raw.index, dtype="string")
    out["source_row"] = source_rows(len(raw))
    out["source_flags"] = pd.Series(pd.NA, index=raw.index, dtype="string")
    return out


def _official(raw: pd.DataFrame, shown: str) -> Frame:
    ints = numeric(
        raw, ["fold_r", "smr", "stimulus_index", "is_attention"], file=shown, integer=True
    )
    participant = _participant_key(raw["participant"])
    soundscape = strip_text(raw["soundscape"]).str.replace(r"\.wav$", "", regex=True)
    masker = strip_text(raw["masker"]).str.replace(r"\.wav$", "", regex=True)
    smr = ints["smr"].astype("Int64")
    clip_id = (
        "ARAUS_"
        + soundscape
        + "__"
        + masker
        + "__smr"
        + smr.map(lambda v: f"{v:+d}" if pd.notna(v) else "NA")
    )
    responses = _responses_frame(
        raw, shown, participant, ints["fold_r"], ints["stimulus_index"], clip_id
    )
    duplicated_key_error(responses["response_id"], file=shown, column="stimulus_index")
    aux = ints["fold_r"].eq(-1).to_numpy()
    last = ints.groupby(participant)["stimulus_index"].transform("max")
    reason = np.where(
        ints["is_attention"].eq(1),
        "attention_stimulus",
        np.where(
            ints["stimulus_index"].eq(1),
            "practice_stimulus",
            np.where(ints["stimulus_index"].eq(last), "consistency_stimulus", ""),
        ),
    )
    reject_first(
        aux & (reason == ""),
        "fold -1 row is neither the practice, attention nor consistency stimulus",
        file=shown,
        column="fold_r",
    )
    exclusions = exclusions_frame(
        pd.DataFrame(
            {
                "source_file": shown,
                "source_row": responses.loc[aux, "source_row"],
                "source_key": responses.loc[aux, "response_id"],
                "reason_code": reason[aux],
                "detail": "fold -1 stimulus "
                + ints.loc[aux, "stimulus_index"].astype(int).astype(str),
            }
        )
    )
    kept = responses[~aux].reset_index(drop=True)
    acoustics = numeric(raw, [c for c in ACOUSTIC_COLUMNS if c in raw.columns], file=shown)
    clip_frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "clip_id": clip_id,
                    "fold": ints["fold_r"],
                    "soundscape": soundscape,
                    "masker": masker,
                    "smr": smr,
                }
            ),
            acoustics,
        ],
        axis=1,
    )[~aux]
    folds = clip_frame.groupby("clip_id")["fold"].nunique()
    if (folds > 1).any():
        cid = folds.index[folds > 1][0]
        raise InputError(f"stimulus {cid} appears in several folds", file=shown, column="fold_r")
    clips = (
        clip_frame.groupby("clip_id", sort=True)
        .agg(
            {
                c: "first" if c in ("fold", "soundscape", "masker", "smr") else "mean"
                for c in clip_frame.columns
                if c != "clip_id"
            }
        )
        .reset_index()
    )
    return kept, _clip_columns(clips), exclusions


def _copy(raw: pd.DataFrame, shown: str) -> Frame:
    ints = numeric(raw, ["fold", "stimulus_index"], file=shown, integer=True)
    test = ints["fold"].eq(0)
    participant = _participant_key(raw["participant"])
    # Fold 0 of the copy holds per-stimulus means over the 5 test listeners, not responses of
    # the participant it is keyed to: say so in the key and in the flags.
    participant = participant.where(~test, "ARAUS_test_panel_mean")
    clip_id = "ARAUS_" + strip_text(raw["audio_file_id"])
    responses = _responses_frame(
        raw, shown, participant, ints["fold"], ints["stimulus_index"], clip_id
    )
    responses.loc[test, "source_flags"] = "pre_averaged_test_panel"
    duplicated_key_error(responses["response_id"], file=shown, column="stimulus_index")
    clips = pd.DataFrame({"clip_id": clip_id, "fold": ints["fold"].astype("Int64")})
    clips["source_flags"] = pd.Series(pd.NA, index=raw.index, dtype="string")
    clips.loc[test, "source_flags"] = "pre_averaged_test_panel"
    for col in ("soundscape", "masker"):
        clips[col] = pd.Series(pd.NA, index=raw.index, dtype="string")
    clips["smr"] = pd.array([pd.NA] * len(raw), dtype="Int64")
    return responses, _clip_columns(clips), exclusions_frame()


def _clip_columns(clips: pd.DataFrame) -> pd.DataFrame:
    clips = clips.assign(dataset_id=DATASET_ID)
    return add_missing_columns(
        clips,
        strings=("audio_asset", "video_asset", "video_asset_id", "source_flags"),
        numbers=(*ACOUSTIC_COLUMNS, "start_s", "end_s"),
    )


def _with_participants(frame: Frame, people: pd.DataFrame, shown: str) -> Frame:
    responses, clips, exclusions = frame
    require_columns(people, ("participant", "age", "gender"), file=shown)
    info = numeric(people, ["age", "gender"], file=shown, integer=True)
    info["participant_id"] = _participant_key(people["participant"])
    reject_first(
        ~info["gender"].isin([0, 1]) & info["gender"].notna(),
        "gender code {value!r} is not 0 or 1",
        file=shown,
        column="gender",
        values=people["gender"],
    )
    info["age_band"] = age_band(
        check_ages(info["age"], file=shown, column="age", values=people["age"])
    )
    info["gender"] = info["gender"].map({0: "male", 1: "female"}).astype("string")
    merged = responses.drop(columns=["age_band", "gender"]).merge(
        info[["participant_id", "age_band", "gender"]], on="participant_id", how="left"
    )
    return merged, clips, exclusions


MEDIA = {
    "unit": "the augmented stimulus: base soundscape + masker at the SMR (clip columns "
    "soundscape, masker, smr), as played to the participants",
    "audio_asset": "build.ARAUS.audio_asset, a pattern of clip columns; the ARAUS authors "
    "publish the soundscapes, the maskers and the script that mixes them, and no file name per "
    "augmented stimulus is known for certain here, so nothing is linked by default",
    "window": "start_s 0, end_s empty: the whole stimulus (30 s)",
    "calibration": "declared in media.ARAUS.calibration",
}

SOURCE = Source(
    dataset_id=DATASET_ID,
    read=read,
    raw_files=(RESPONSES, PARTICIPANTS),
    scale=SCALE,
    reasons=REASONS,
    tables=TABLES,
    clip_mean_parts=CLIP_MEAN_PARTS,
    gender_values=GENDER_VALUES,
    id_rules={
        "clip_id": "ARAUS_<soundscape>__<masker>__smr<+d> (official layout); "
        "ARAUS_<audio_file_id> (re-assembled copy)",
        "response_id": "<participant_id>_s<stimulus_index, 2 digits>",
        "participant_id": "ARAUS_<participant> (copy fold 0: ARAUS_test_panel_mean)",
    },
    mean_columns=MEAN_COLUMNS,
    acoustic_columns=tuple(ACOUSTIC_COLUMNS),
    media=MEDIA,
    # clip IDs hold the signed soundscape-to-masker ratio (smr+3)
    id_characters=ID_CHARACTERS.replace("_.", "_.+"),
)
