"""The maturity model as data: `model/v<N>.json`, loaded and checked once per process.

Why data and not code: the model is versioned (a round keeps the version it was answered
with, and approved results say which version they are in), its wording follows the source
document and is reviewed by people who do not read Python, and a new version is a new file.

Texts are shipped in English and Russian side by side in the file (`{"en": ..., "ru": ...}`)
rather than as gettext msgids: they are long, belong to one version of the model and are
reviewed with it; `text()` picks the active language and falls back to English.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.utils.translation import get_language

from .measures import MEASURES

MODEL_DIR = Path(__file__).resolve().parent / "model"
LEVELS = (1, 2, 3, 4, 5)
SOURCES = ("manual", "automatic")
LANGUAGES = ("en", "ru")


class ModelFileError(ValueError):
    """The model file is not valid: says which file, where and what is wrong."""


def text(value: dict[str, str], language: str | None = None) -> str:
    """`value` in the active language (its first part: "ru-ru" reads "ru"), else English."""
    code = (language or get_language() or "en").split("-")[0]
    return value.get(code) or value["en"]


@dataclass(frozen=True)
class Indicator:
    code: str
    source: str  # "manual" (questionnaire) or "automatic" (a measure)
    title: dict[str, str]
    reference: str
    levels: tuple[dict[str, str], ...]  # criteria of levels 1..5
    measure: str = ""
    thresholds: tuple[float, ...] = ()  # value >= thresholds[i] reaches level i + 2

    @property
    def automatic(self) -> bool:
        return self.source == "automatic"

    def level_for(self, value: float | None) -> int | None:
        """The level a measured `value` reaches (None: nothing measured, not assessed)."""
        if value is None:
            return None
        return 1 + sum(1 for threshold in self.thresholds if value >= threshold)

    def criteria(self, level: int) -> str:
        return text(self.levels[level - 1])


@dataclass(frozen=True)
class Dimension:
    code: str
    title: dict[str, str]
    reference: str
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True)
class Model:
    version: int
    title: dict[str, str]
    source: str
    level_names: tuple[dict[str, str], ...]
    dimensions: tuple[Dimension, ...]

    def indicators(self) -> list[Indicator]:
        return [i for d in self.dimensions for i in d.indicators]

    def indicator(self, code: str) -> Indicator | None:
        return next((i for i in self.indicators() if i.code == code), None)

    def dimension(self, code: str) -> Dimension | None:
        return next((d for d in self.dimensions if d.code == code), None)

    def level_name(self, level: int) -> str:
        return text(self.level_names[level - 1])


def _texts(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or any(
            not isinstance(raw.get(lang), str) or not raw[lang].strip() for lang in LANGUAGES):
        raise ModelFileError(f"{where}: needs a non-empty text in each of {LANGUAGES}")
    return {lang: raw[lang] for lang in LANGUAGES}


def _str(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ModelFileError(f"{where}: '{key}' must be a non-empty string")
    return value


def _indicator(raw: Any, where: str, known_measures: set[str] | None) -> Indicator:
    if not isinstance(raw, dict):
        raise ModelFileError(f"{where}: must be an object")
    code = _str(raw, "code", where)
    where = f"{where} ({code})"
    source = raw.get("source")
    if source not in SOURCES:
        raise ModelFileError(f"{where}: 'source' must be one of {SOURCES}")
    levels = raw.get("levels")
    if not isinstance(levels, list) or len(levels) != len(LEVELS):
        raise ModelFileError(f"{where}: 'levels' must list the criteria of levels 1 to 5")
    measure, thresholds = "", ()
    if source == "automatic":
        measure = _str(raw, "measure", where)
        if known_measures is not None and measure not in known_measures:
            raise ModelFileError(f"{where}: unknown measure '{measure}'")
        thresholds = tuple(raw.get("thresholds") or ())
        if (len(thresholds) != len(LEVELS) - 1
                or not all(isinstance(t, int | float) and not isinstance(t, bool)
                           for t in thresholds)
                or list(thresholds) != sorted(set(thresholds))):
            raise ModelFileError(f"{where}: 'thresholds' must be 4 strictly increasing numbers "
                                 "(the values that reach levels 2, 3, 4 and 5)")
    elif "measure" in raw or "thresholds" in raw:
        raise ModelFileError(f"{where}: a manual indicator has no measure or thresholds")
    return Indicator(
        code=code, source=source, title=_texts(raw.get("title"), f"{where} title"),
        reference=_str(raw, "reference", where),
        levels=tuple(_texts(level, f"{where} level {n}") for n, level in enumerate(levels, 1)),
        measure=measure, thresholds=tuple(float(t) for t in thresholds))


def parse(raw: Any, *, name: str = "model", known_measures: set[str] | None = None) -> Model:
    """Check and build a model from its decoded JSON; ModelFileError says what is wrong."""
    if not isinstance(raw, dict):
        raise ModelFileError(f"{name}: must be a JSON object")
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{name}: 'version' must be a positive integer")
    names = raw.get("levels")
    if (not isinstance(names, list) or [n.get("level") for n in names if isinstance(n, dict)]
            != list(LEVELS)):
        raise ModelFileError(f"{name}: 'levels' must name levels 1 to 5 in order")
    dimensions_raw = raw.get("dimensions")
    if not isinstance(dimensions_raw, list) or not dimensions_raw:
        raise ModelFileError(f"{name}: 'dimensions' must be a non-empty list")
    dimensions, seen = [], set()
    for n, d in enumerate(dimensions_raw, 1):
        where = f"{name} dimension {n}"
        if not isinstance(d, dict):
            raise ModelFileError(f"{where}: must be an object")
        code = _str(d, "code", where)
        indicators_raw = d.get("indicators")
        if not isinstance(indicators_raw, list) or not indicators_raw:
            raise ModelFileError(f"{where} ({code}): 'indicators' must be a non-empty list")
        indicators = tuple(_indicator(i, f"{where} indicator {k}", known_measures)
                           for k, i in enumerate(indicators_raw, 1))
        for item in (code, *(i.code for i in indicators)):
            if item in seen:
                raise ModelFileError(f"{where}: code '{item}' is used twice")
            seen.add(item)
        dimensions.append(Dimension(code=code, title=_texts(d.get("title"), f"{where} title"),
                                    reference=_str(d, "reference", where),
                                    indicators=indicators))
    return Model(version=version, title=_texts(raw.get("title"), f"{name} title"),
                 source=_str(raw, "source", name),
                 level_names=tuple(_texts(n.get("name"), f"{name} level name") for n in names),
                 dimensions=tuple(dimensions))


def load(path: Path, known_measures: set[str] | None = None) -> Model:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{path.name}: cannot be read as JSON: {error}") from error
    model = parse(raw, name=path.name, known_measures=known_measures)
    if path.stem != f"v{model.version}":
        raise ModelFileError(f"{path.name}: holds version {model.version}; name it "
                             f"v{model.version}.json")
    return model


@cache
def versions() -> dict[int, Model]:
    """Every shipped version, by number (rounds answered with an old one keep reading it)."""
    found = [load(path, set(MEASURES)) for path in sorted(MODEL_DIR.glob("v*.json"))]
    return {model.version: model for model in found}


def current() -> Model:
    """The newest shipped version: what a new round is answered with."""
    shipped = versions()
    return shipped[max(shipped)]


def get(version: int) -> Model:
    return versions().get(version) or current()
