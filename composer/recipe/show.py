"""The effective recipe as YAML, one line per setting or entry, with optional origins.

Flow style keeps every entry on one line so that an origin comment can follow it; the
output is itself a valid recipe (sources are absolute, so it loads from anywhere).
"""

from __future__ import annotations

import json
from typing import Any

from composer.recipe.model import ENTRY_LISTS, Recipe

ORDER = tuple(Recipe.model_fields)  # the model's order: settings, then the entry lists


def _flow(value: Any) -> str:
    """One-line YAML: JSON scalars and lists are valid YAML and never wrap."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def _octal_modes(item: dict[str, Any]) -> dict[str, Any]:
    return {k: (f"0{v:o}" if k == "mode" and isinstance(v, int) else v)
            for k, v in item.items() if k not in ("at", "remove")}


def recipe_data(data: dict[str, Any]) -> dict[str, Any]:
    """Merged data as a recipe again: without the name (it comes from the file name)
    and the entries' `at` (where they were written), which no recipe may contain."""
    out = {k: v for k, v in data.items() if k != "name"}
    for key in ENTRY_LISTS:
        if key in out:
            out[key] = [{k: v for k, v in item.items() if k != "at"}
                        if isinstance(item, dict) else item for item in out[key]]
    return out


def show(data: dict[str, Any], origins: dict[str, str] | None = None) -> str:
    """Render merged recipe data; with `origins`, each line says where it came from."""
    lines: list[str] = []

    def line(text: str, origin: str | None) -> None:
        lines.append(f"{text}  # {origin}" if origins is not None and origin else text)

    for key in [k for k in ORDER if k in data] + [k for k in data if k not in ORDER]:
        if key == "name":
            continue
        value = data[key]
        where = (origins or {}).get(key)
        if key in ENTRY_LISTS:
            if not value:
                continue
            lines.append(f"{key}:")
            for item in value:
                line(f"  - {_flow(_octal_modes(item))}", item.get("at"))
        elif isinstance(value, dict):
            lines.append(f"{key}:")
            for sub, subvalue in value.items():
                line(f"  {sub}: {_flow(subvalue)}", (origins or {}).get(f"{key}.{sub}", where))
        else:
            line(f"{key}: {_flow(value)}", where)
    return "\n".join(lines) + "\n"
