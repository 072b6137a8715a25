"""ISD, the International Soundscape Database (v1.0): everything special about its raw file.

Raw input: ``ISD v1.0 Data.csv`` (Zenodo 10.5281/zenodo.6331810), 3,589 on-site survey responses
x 142 columns. By default the byte-identical copy shipped in the ``soundscapy`` package is read.

Clip = one GroupID (the group of respondents who heard one binaural recording) within its
LocationID/SessionID. The quirks handled here, each documented in the README:

- IDs are trimmed of white space. Two GroupIDs (``RF222``, ``TS417``) occur with and without a
  trailing space in the same session, minutes apart, and only one spelling carries the
  recording's acoustics: they are one group, merged, and the clip is flagged
  ``group_id_whitespace``.
- ``ET203`` is used in two sessions of EustonTap a day apart: two clips (the key includes the
  session), each flagged ``group_id_in_several_sessions``.
- Placeholder GroupIDs (``RES``, ``UNKNOWN``, ``CP0``, ``CP00``) name no recording group: their
  rows are excluded (``placeholder_group_id``).
- RecordID is not unique across the file; (GroupID, RecordID) is.
- ``gen00`` mixes words with the undocumented codes 1 and 2: the words are normalised, the codes
  are kept as ``code_1``/``code_2`` rather than guessed.
- Media: a clip is one GroupID, and one GroupID is one binaural recording (calibrated pascals,
  about 30 s; ``recording_length_s``). ``audio_asset`` is that recording's path under the ISD
  media root, made from the ``build.ISD.audio_asset`` pattern; ``start_s`` is 0 and ``end_s``
  is empty: the clip is the whole recording. SOURCES note: the file names inside the published
  ISD audio archive are **not known for certain** here (the four excerpts at hand are named
  ``trimmed_CT101.wav``...); the default pattern ``{GroupID}.wav`` is a setting, not a fact.
  ``ET203``, used in two sessions, gives both its clips one file under that default; a pattern
  with ``{SessionID}`` tells them apart if the archive does.
- Personal data is dropped: free text, WHO-5, education, ethnicity, occupation, per-person times
  and GPS. Ages are published as bands; location coordinates are one point per location (the
  median of the respondents' positions, 4 decimals), not per person.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.errors import InputError, MosaiqError, spreadsheet_row
from mosaiq.harmonise import age_band
from mosaiq.paq import LIKERT_5, PAQ_FROM_WORDS
from mosaiq.schema import CLIP_FK, Part, TableSpec
from mosaiq.sources.base import (
    RawFile,
    RawInput,
    Source,
    SourceTables,
    check_sha256,
    declared_sha256,
    duplicated_key_error,
    exclusions_frame,
    field,
    join_flags,
    map_codes,
    numeric,
    read_csv_text,
    reject_first,
    require_columns,
    require_dataset_param,
    require_raw,
    resolve_path,
    source_rows,
    strip_text,
)
from mosaiq.sources.checks import acoustic_constraints, blank_as_missing, check_ages

DATASET_ID = "ISD"
SCALE = LIKERT_5
RAW_FILENAME = "ISD v1.0 Data.csv"
# Path of a clip's recording under the media root; {GroupID}, {LocationID}, {SessionID} are
# filled in. Not confirmed against the published archive: a setting (build.ISD.audio_asset).
AUDIO_ASSET = "{GroupID}.wav"
MEDIA = {
    "unit": "one binaural recording per GroupID (calibrated pascal float WAV, about 30 s)",
    "audio_asset": f"build.ISD.audio_asset (default {AUDIO_ASSET!r}; archive names unconfirmed)",
    "window": "start_s 0, end_s empty: the whole recording",
    "calibration": "pascal",
}
KNOWN_SHA256 = "1e54e41c694b7054e137210dc632a7d0c0aa6eca91e4b5e6a59605ea6411e3cf"
SOUNDSCAPY = "soundscapy"
RAW = RawFile("responses", RAW_FILENAME, "build.ISD.raw", sha256=KNOWN_SHA256, version="ISD v1.0")

PLACEHOLDER_GROUP_IDS = ("CP0", "CP00", "RES", "UNKNOWN")

REASONS = {
    "placeholder_group_id": "GroupID is a placeholder that names no recording group",
}

PAQ_COLUMNS = PAQ_FROM_WORDS  # the files use the plain words

# Sound source dominance and overall items (SSID protocol); 1-5 scales.
SURVEY_ITEMS = {
    "ssi01": ("traffic_noise", "Traffic noise dominance (1 not at all - 5 dominates completely)"),
    "ssi02": ("other_noise", "Other noise dominance (1 not at all - 5 dominates completely)"),
    "ssi03": ("human_sounds", "Human sounds dominance (1 not at all - 5 dominates completely)"),
    "ssi04": ("natural_sounds", "Natural sounds dominance (1 not at all - 5 dominates completely)"),
    "sss01": ("overall_sound_environment", "Overall sound environment (1 very bad - 5 very good)"),
    "sss02": ("appropriate", "Appropriateness to the place (1 not at all - 5 perfectly)"),
    "sss03": ("perceived_loud", "Perceived loudness (1 not at all - 5 extremely)"),
    "sss04": ("visit_often", "How often visited (1 never/first time - 5 very often)"),
    "sss05": ("like_to_visit", "Would like to visit again (1 never - 5 very often)"),
}

GENDER = {
    "Female": "female",
    "Male": "male",
    "Non-conforming": "non_conforming",
    "RatherNotSay": "prefer_not_to_say",
    "1": "code_1",
    "2": "code_2",
}

# ---- acoustic indicators: ISD column -> readable name, unit, description -------------------
# Each metric block: ISD prefix, the block's statistic columns in file order, the readable
# symbol, unit and quantity. All values are the maximum of the two binaural channels (_Max).
_ACOUSTIC_BLOCKS: tuple[tuple[str, tuple[str, ...], str, str, str], ...] = (
    (
        "LZeq",
        ("L", "Min", "Max", "L5", "L10", "L50", "L90", "L95"),
        "LZ",
        "dB",
        "Z-weighted sound pressure level",
    ),
    (
        "LCeq",
        ("L(C)", "Min(C)", "Max(C)", "L5(C)", "L10(C)", "L50(C)", "L90(C)", "L95(C)"),
        "LC",
        "dBC",
        "C-weighted sound pressure level",
    ),
    (
        "LAeq",
        ("L(A)", "Min(A)", "Max(A)", "L5(A)", "L10(A)", "L50(A)", "L90(A)", "L95(A)"),
        "LA",
        "dBA",
        "A-weighted sound pressure level",
    ),
    ("N", ("N5", "Min", "Max", "N10", "N50", "N90", "N95"), "N", "sone", "Loudness"),
    ("S", ("S", "Min", "Max", "S5", "S10", "S50", "S90", "S95"), "S", "acum", "Sharpness"),
    ("R", ("R", "Min", "Max", "R5", "R10", "R50", "R90", "R95"), "R", "asper", "Roughness"),
    (
        "T",
        ("TonalityHMS", "Min", "Max", "T5", "T10", "T50", "T90", "T95"),
        "T",
        "tuHMS",
        "Tonality (Hearing Model of Sottek)",
    ),
    (
        "FS",
        ("F", "Min", "Max", "F5", "F10", "F50", "F90", "F95"),
        "F",
        "vacil",
        "Fluctuation strength",
    ),
    ("I", ("I", "Min", "Max", "I5", "I10", "I50", "I90", "I95"), "I", "iu", "Impulsiveness"),
    (
        "SIL4",
        ("SIL(rms)", "SIL(av)", "Min", "Max", "SIL5", "SIL10", "SIL50", "SIL90", "SIL95"),
        "SIL",
        "dB",
        "Speech interference level (4 octave bands)",
    ),
    (
        "RA",
        ("cp", "Min", "Max", "cp5", "cp10", "cp50", "cp90", "cp95"),
        "RA",
        "",
        "Relative approach",
    ),
    (
        "THD",
        ("THD", "Min", "Max", "L5", "L10", "L50", "L90", "L95"),
        "THD",
        "",
        "Total harmonic distortion",
    ),
)
_OVERALL = {"L": "eq", "L(A)": "eq", "L(C)": "eq", "SIL(rms)": "_rms", "SIL(av)": "_av"}


def _acoustic_columns() -> list[tuple[str, str, str, str]]:
    """(ISD column, readable name, unit, description) of the 96 acoustic indicators.

    Readable names join the symbol, the statistic and the unit: ``LAeq_dBA``, ``LA90_dBA``,
    ``N5_sone``, ``Smax_acum``, ``SIL_rms_dB``; the schema gives the ISD column of each.
    """
    out = []
    for prefix, stats, symbol, unit, quantity in _ACOUSTIC_BLOCKS:
        for stat in stats:
            src = f"{prefix}_{stat}_Max"
            plain = stat.replace("(A)", "").replace("(C)", "")
            digits = "".join(ch for ch in plain if ch.isdigit())
            if plain in ("Min", "Max"):
                suffix, what = plain.lower(), f"{plain.lower()}imum over time"
            elif digits:
                suffix, what = digits, f"percentile value exceeded {digits}% of the time"
            else:
                suffix, what = _OVERALL.get(stat, ""), "overall value"
            label = symbol + suffix
            name = f"{label}_{unit}" if unit else label
            unit_text = unit or "as exported by the analysis software (not stated in the source)"
            desc = (
                f"{quantity}, {what}; maximum of the two binaural channels. "
                f"ISD column {src}. Unit: {unit_text}."
            )
            out.append((src, name, unit, desc))
    return out


ACOUSTIC_COLUMNS = _acoustic_columns()


def _ranged(unit: str) -> dict[str, Any]:
    """The physical range of an indicator in ``unit`` as schema constraints (none if unknown)."""
    limits = acoustic_constraints(unit)
    return {"constraints": limits} if limits else {}


ID_COLUMNS = ("LocationID", "SessionID", "GroupID", "RecordID")
REQUIRED_COLUMNS = (
    *ID_COLUMNS,
    "latitude",
    "longitude",
    "Language",
    "Survey_Version",
    *SURVEY_ITEMS,
    *PAQ_COLUMNS,
    "age00",
    "gen00",
    "RecordingLength",
    *(src for src, *_ in ACOUSTIC_COLUMNS),
)
NUMBER_COLUMNS = (
    *PAQ_COLUMNS,
    *SURVEY_ITEMS,
    "age00",
    "latitude",
    "longitude",
    "RecordingLength",
    *(src for src, *_ in ACOUSTIC_COLUMNS),
)
"""Columns parsed as numbers (the CSV parser reads them so, see ``read_source``)."""

_LIKERT = {"minimum": 1, "maximum": 5}

CLIP_MEAN_PARTS: list[Part] = ["clip_counts", "paq_means", "iso_means"]
MEAN_COLUMNS: tuple[str, ...] = ()

GENDER_VALUES = tuple(sorted(set(GENDER.values())))
"""The normalised gender codes this source can give."""

TABLES = {
    "clips": TableSpec(
        name="clips",
        title="ISD clips (one recording group within a session)",
        parts=[
            "clip_keys",
            field("LocationID", "string", "ISD location.", constraints={"required": True}),
            field(
                "SessionID",
                "string",
                "ISD session (a visit to the location).",
                constraints={"required": True},
            ),
            field(
                "GroupID",
                "string",
                "ISD group: respondents who heard one recording.",
                constraints={"required": True},
            ),
            field(
                "latitude",
                "number",
                "Location latitude (WGS84): median of the respondents' positions at the "
                "location, 4 decimals; the same for every clip of the location.",
                unit="deg",
                constraints={"minimum": -90, "maximum": 90},
            ),
            field(
                "longitude",
                "number",
                "Location longitude (WGS84), as latitude.",
                unit="deg",
                constraints={"minimum": -180, "maximum": 180},
            ),
            "clip_assets",
            *CLIP_MEAN_PARTS,
            field(
                "recording_length_s",
                "number",
                "Length of the binaural recording.",
                unit="s",
                constraints={"minimum": 0},
            ),
            *(
                field(
                    name,
                    "number",
                    desc,
                    **({"unit": unit} if unit else {}),
                    **_ranged(unit),
                )
                for _src, name, unit, desc in ACOUSTIC_COLUMNS
            ),
            "provenance",
        ],
        primary_key=["clip_id"],
    ),
    "responses": TableSpec(
        name="responses",
        title="ISD responses (one on-site questionnaire)",
        parts=[
            "response_keys",
            field(
                "RecordID",
                "string",
                "ISD survey record (unique within its GroupID).",
                constraints={"required": True},
            ),
            field("survey_version", "string", "Questionnaire version (language and edition)."),
            "paq_ratings",
            "iso_response",
            *(
                field(name, "integer", desc, constraints=_LIKERT)
                for name, desc in SURVEY_ITEMS.values()
            ),
            "demographics",
            "response_source",
            "provenance",
        ],
        primary_key=["response_id"],
        foreign_keys=CLIP_FK,
    ),
}


def locate_raw(root: Path, params: dict[str, Any]) -> Path:
    """The raw file: the copy shipped by soundscapy (``raw: soundscapy``) or a given path."""
    where = require_dataset_param(params, DATASET_ID).get("raw", SOUNDSCAPY)
    if where == SOUNDSCAPY:
        spec = importlib.util.find_spec(SOUNDSCAPY)  # locates the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise MosaiqError(
                "params.yaml build.ISD.raw is 'soundscapy' but the soundscapy package is not "
                "installed; run `uv sync` or give the path of 'ISD v1.0 Data.csv'"
            )
        return Path(next(iter(spec.submodule_search_locations))) / "data" / RAW_FILENAME
    return resolve_path(root, where)


def read(root: Path, params: dict[str, Any]) -> SourceTables:
    path = require_raw(
        locate_raw(root, params), DATASET_ID, RAW_FILENAME, "give its path in build.ISD.raw"
    )
    require_dataset_param(params, DATASET_ID)
    declared = declared_sha256(params, DATASET_ID, RAW) or KNOWN_SHA256
    sha = check_sha256(path, declared, param_key="build.ISD.sha256")
    raw = read_csv_text(path, numbers=NUMBER_COLUMNS)
    require_columns(raw, REQUIRED_COLUMNS, file=path.name)
    shown = path.name
    n = len(raw)
    rows = source_rows(n)

    ids = {c: blank_as_missing(strip_text(raw[c])) for c in ID_COLUMNS}
    for col, values in ids.items():
        reject_first(values.isna(), "empty ID", file=shown, column=col)
    loc, ses, grp, rec = ids["LocationID"], ids["SessionID"], ids["GroupID"], ids["RecordID"]
    clip_id = "ISD_" + loc + "_" + ses + "_" + grp
    response_id = clip_id + "_" + rec
    duplicated_key_error(response_id, file=shown, column="RecordID")

    paq = numeric(raw, list(PAQ_COLUMNS), file=shown, scale=SCALE).rename(columns=PAQ_COLUMNS)
    items = numeric(raw, list(SURVEY_ITEMS), file=shown, scale=SCALE, integer=True)
    gender = map_codes(raw["gen00"], GENDER, "gender", file=shown, column="gen00")
    age = check_ages(
        numeric(raw, ["age00"], file=shown)["age00"],
        file=shown,
        column="age00",
        values=raw["age00"],
    )

    responses = pd.DataFrame(
        {
            "response_id": response_id,
            "clip_id": clip_id,
            "dataset_id": DATASET_ID,
            # A field survey: one respondent per response, no key across responses.
            "participant_id": response_id,
            "language": strip_text(raw["Language"]),
            "RecordID": rec,
            "survey_version": strip_text(raw["Survey_Version"]),
        }
    )
    responses = pd.concat([responses, paq], axis=1)
    for src, (name, _desc) in SURVEY_ITEMS.items():
        responses[name] = items[src].astype("Int64")
    responses["age_band"] = age_band(age)
    responses["gender"] = gender
    responses["source_row"] = rows
    responses["source_flags"] = pd.Series(pd.NA, index=raw.index, dtype="string")

    placeholder = grp.isin(PLACEHOLDER_GROUP_IDS)
    exclusions = exclusions_frame(
        pd.DataFrame(
            {
                "source_file": shown,
                "source_row": rows[placeholder.to_numpy()],
                "source_key": (ses + "/" + grp + "/" + rec)[placeholder].to_numpy(),
                "reason_code": "placeholder_group_id",
                "detail": ("GroupID " + grp[placeholder] + " is a placeholder").to_numpy(),
            }
        )
    )
    keep = ~placeholder.to_numpy()
    clips = _clips(raw, clip_id, loc, ses, grp, shown)
    clips = link_media(clips, require_dataset_param(params, DATASET_ID).get("audio_asset"))
    return SourceTables(
        responses=responses[keep].reset_index(drop=True),
        clips=clips[~clips["GroupID"].isin(PLACEHOLDER_GROUP_IDS)],
        exclusions=exclusions,
        raw_rows=n,
        source_file=shown,
        inputs=[RawInput(path=path, sha256=sha, rows=n)],
    )


def _clips(
    raw: pd.DataFrame,
    clip_id: pd.Series,
    loc: pd.Series,
    ses: pd.Series,
    grp: pd.Series,
    shown: str,
) -> pd.DataFrame:
    """One row per clip: IDs, location coordinates, source flags and the recording's acoustics."""
    src_cols = ["RecordingLength", *(src for src, *_ in ACOUSTIC_COLUMNS)]
    acoustics = numeric(raw, src_cols, file=shown)
    acoustics.columns = ["recording_length_s", *(name for _s, name, *_ in ACOUSTIC_COLUMNS)]
    frame = pd.concat(
        [
            pd.DataFrame({"clip_id": clip_id, "LocationID": loc, "SessionID": ses, "GroupID": grp}),
            acoustics,
        ],
        axis=1,
    )
    # The acoustics describe the group's recording: constant within a clip wherever given.
    by_clip = frame.groupby("clip_id")[list(acoustics.columns)]
    varying = by_clip.max().gt(by_clip.min())  # more than one value (missing ones aside)
    if varying.to_numpy().any():
        cid = varying.index[varying.any(axis=1)][0]
        col = varying.columns[varying.loc[cid]][0]
        positions = np.flatnonzero((clip_id == cid).to_numpy())
        raw_col = src_cols[list(acoustics.columns).index(col)]
        values = raw[raw_col].iloc[positions]
        numbers = acoustics[col].iloc[positions]
        given = np.flatnonzero(numbers.notna().to_numpy())
        ref = int(given[0])
        odd = int(given[numbers.iloc[given].ne(numbers.iloc[ref]).to_numpy()][0])
        raise InputError(
            f"acoustic values differ within GroupID {grp.iloc[positions[0]]!r}: "
            f"{values.iloc[odd]!r} where row {spreadsheet_row(positions[ref])} has "
            f"{values.iloc[ref]!r} "
            f"(rows {', '.join(str(spreadsheet_row(p)) for p in positions)}; published as {col})",
            file=shown,
            row=spreadsheet_row(positions[odd]),
            column=raw_col,
        )
    clips = frame.groupby("clip_id", sort=True).first()  # first non-missing value per column

    coords = numeric(raw, ["latitude", "longitude"], file=shown)
    coords["LocationID"] = loc
    location_point = coords.groupby("LocationID")[["latitude", "longitude"]].median().round(4)
    clips = clips.join(location_point, on="LocationID")

    raw_spellings = raw["GroupID"].groupby(clip_id).nunique()
    sessions_per_group = pd.Series(ses.to_numpy(), index=grp.to_numpy()).groupby(level=0).nunique()
    flags = {
        "group_id_whitespace": raw_spellings.reindex(clips.index).fillna(1).gt(1),
        "group_id_in_several_sessions": clips["GroupID"].map(sessions_per_group).fillna(1).gt(1),
    }
    clips["source_flags"] = join_flags(flags, clips.index)
    clips["dataset_id"] = DATASET_ID
    for col in ("audio_asset", "video_asset", "video_asset_id"):
        clips[col] = pd.Series(pd.NA, index=clips.index, dtype="string")
    for col in ("start_s", "end_s"):
        clips[col] = np.nan
    return clips.reset_index()


def link_media(clips: pd.DataFrame, pattern: str | None) -> pd.DataFrame:
    """``audio_asset`` from the pattern (``None``: the default; ``""``: no media linked)."""
    pattern = AUDIO_ASSET if pattern is None else str(pattern)
    if not pattern:
        return clips
    try:
        assets = [
            pattern.format(GroupID=g, LocationID=loc, SessionID=s)
            for g, loc, s in clips[["GroupID", "LocationID", "SessionID"]].itertuples(index=False)
        ]
    except (KeyError, IndexError, ValueError) as exc:
        raise MosaiqError(
            f"params.yaml build.ISD.audio_asset {pattern!r}: only {{GroupID}}, {{LocationID}} "
            f"and {{SessionID}} can be filled in ({exc})"
        ) from exc
    out = clips.copy()
    out["audio_asset"] = pd.array(assets, dtype="string")
    out["start_s"] = 0.0
    return out


SOURCE = Source(
    dataset_id=DATASET_ID,
    read=read,
    raw_files=(RAW,),
    scale=SCALE,
    reasons=REASONS,
    tables=TABLES,
    clip_mean_parts=CLIP_MEAN_PARTS,
    gender_values=GENDER_VALUES,
    id_rules={
        "clip_id": "ISD_<LocationID>_<SessionID>_<GroupID> (IDs trimmed of white space)",
        "response_id": "<clip_id>_<RecordID>",
        "participant_id": "the response_id (an on-site survey: one respondent per response)",
    },
    committed=True,
    mean_columns=MEAN_COLUMNS,
    acoustic_columns=tuple(name for _src, name, *_ in ACOUSTIC_COLUMNS),
    media=MEDIA,
)
