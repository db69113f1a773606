"""Load a recipe: YAML with marks -> schema check -> extends merged -> variables -> model.

Each file of an `extends` chain is validated on its own (so errors point into the file
that has them), its relative paths are made absolute against its own directory, and
only then are the layers merged.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from composer.errors import InputError, Location, Problem, RecipeError
from composer.recipe.confine import HINT as CONFINE_HINT
from composer.recipe.confine import Confinement, is_stock_recipe, recipe_tree
from composer.recipe.merge import Replacement, merge
from composer.recipe.model import ENTRY_LISTS, Recipe, VariableValue
from composer.recipe.schema import type_name, validate
from composer.recipe.stock import is_name, recipe_argument, stock_recipes
from composer.recipe.variables import check, coerce_declared, is_declaration, split
from composer.recipe.yamldoc import Document, format_key_path, load_document

__all__ = ["LoadedRecipe", "Recipe", "load_recipe", "parse_assignment"]


@dataclass(frozen=True)
class LoadedRecipe:
    """A recipe as loaded: the model, and what the build reports and checks about its files."""

    recipe: Recipe
    path: Path
    files: tuple[Path, ...]  # the recipe and every file it extends, for "is an input"
    data: dict[str, Any] = field(default_factory=dict)  # merged data, before the model
    origins: dict[str, str] = field(default_factory=dict)  # "kernel.cmdline" -> file:line:col
    replaced: tuple[Replacement, ...] = ()  # base entries the variants replaced or removed
    confinement: Confinement = field(default_factory=Confinement)  # what it may read


def _confined(data: dict[str, Any], doc: Document, base: Path, tree: Path,
              confinement: Confinement) -> list[Problem]:
    """Every entry source of one layer that lies outside what it may read."""
    problems = []
    for key, kind in [(k, v) for list_key, v in ENTRY_LISTS.items()
                      for k in (list_key, f"{list_key}+")]:  # files+: items read files too
        for i, item in enumerate(data.get(key, [])):
            for name in kind.relative:
                value = item.get(name) if isinstance(item, dict) else None
                if not isinstance(value, str):
                    continue
                reason = confinement.refusal(base / value, tree)
                if reason is not None:
                    problems.append(Problem(f"{value} {reason}", doc.where((key, i, name)),
                                            f"{key}[{i}].{name}", CONFINE_HINT))
    return problems


def _absolutize(data: dict[str, Any], doc: Document, base: Path) -> None:
    """Make relative sources absolute and note where each entry was written; `K+:` items
    join the list K, `K-:` names become entries with `remove: true`."""
    for key, kind in ENTRY_LISTS.items():
        _list_edits(data, doc, key, kind)
        items = data.get(key, [])
        for i, item in enumerate(items):
            item = items[i] = dict(kind.spelt_out(item))
            if "at" not in item:  # K+ items came with theirs
                item["at"] = str(doc.where((key, i)))
            for name in kind.relative:
                if isinstance(item.get(name), str):
                    # absolute, not resolved: messages name the path the user wrote
                    item[name] = os.path.abspath(base / item[name])


def _list_edits(data: dict[str, Any], doc: Document, key: str, kind: Any) -> None:
    added, removed = data.pop(f"{key}+", None), data.pop(f"{key}-", None)
    if added is None and removed is None:
        return
    items = data.setdefault(key, [])
    for i, item in enumerate(added or []):
        item = dict(kind.spelt_out(item))
        item["at"] = str(doc.where((f"{key}+", i)))
        items.append(item)
    for i, name in enumerate(removed or []):
        items.append({kind.identity_key: name, "remove": True,
                      "at": str(doc.where((f"{key}-", i)))})


def _display_path(path: Path) -> Path:
    """Relative to the working directory when that is shorter, for readable messages."""
    relative = os.path.relpath(path)
    return Path(relative) if not relative.startswith("..") else path


def _stock_hint(name: str) -> str:
    """Did you mean, and the stock list, for a recipe name that named nothing."""
    stock = list(stock_recipes())
    close = difflib.get_close_matches(Path(name).stem, stock, n=1)
    mean = f"did you mean '{close[0]}'? " if close else ""
    if not is_name(name):
        return mean.rstrip()
    return mean + "a name without / or .yaml is a stock recipe; stock recipes: " + (
        ", ".join(stock) or "none installed")


def _extends_list(data: dict[str, Any]) -> list[str]:
    value = data.get("extends", [])
    return [value] if isinstance(value, str) else list(value)


def _origins(data: dict[str, Any], doc: Document) -> dict[str, str]:
    """Where each setting outside the entry lists was written, for `compose show --origins`."""
    out: dict[str, str] = {}
    for key, value in data.items():
        if key in ENTRY_LISTS or key == "extends":
            continue
        out[key] = str(doc.where((key,)))
        if isinstance(value, dict):
            for sub in value:
                name = sub.rstrip("+-") if key == "variables" else sub  # modules+: [...]
                out[f"{key}.{name}"] = str(doc.where((key, sub)))
                if key == "variables" and is_declaration(value[sub]):
                    out[f"declared.{sub}"] = out[f"{key}.{sub}"]
    return out


def _load_layers(path: Path, chain: tuple[Path, ...], log: list[Replacement],
                 confinement: Confinement
                 ) -> tuple[dict[str, Any], list[Path], dict[str, str]]:
    resolved = path.resolve()
    doc = load_document(path)
    if not isinstance(doc.data, dict):
        raise RecipeError([Problem("a recipe must be a mapping of keys", doc.where(()))])
    problems = validate(doc)
    if problems:
        raise RecipeError(problems)
    data = doc.data
    tree = recipe_tree(resolved)
    problems = _confined(data, doc, resolved.parent, tree, confinement)
    if problems:
        raise RecipeError(problems)
    _absolutize(data, doc, resolved.parent)
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    files = [resolved]
    for i, parent in enumerate(_extends_list(data)):
        parent_path = _display_path(recipe_argument(parent, resolved.parent))
        where = doc.where(("extends", i) if isinstance(data["extends"], list) else ("extends",))
        if not parent_path.exists():
            raise RecipeError([Problem(f"extended recipe {parent!r} not found "
                                       f"(looked for {parent_path})", where, "extends",
                                       _stock_hint(parent))])
        if parent_path.resolve() in (*chain, resolved):
            names = " -> ".join(str(p) for p in (*chain, resolved, parent_path.resolve()))
            raise RecipeError([Problem(f"extends cycle: {names}", where, "extends",
                                       "a recipe cannot extend itself, even indirectly")])
        reason = None if is_stock_recipe(parent_path) else \
            confinement.refusal(resolved.parent / parent, tree)
        if reason is not None:
            raise RecipeError([Problem(f"{parent} {reason}", where, "extends", CONFINE_HINT)])
        layer, layer_files, layer_origins = _extended(parent_path, (*chain, resolved), log,
                                                      where, confinement)
        merged = merge(merged, layer, log)
        files += layer_files
        origins.update(layer_origins)
    origins.update(_origins(data, doc))
    return merge(merged, data, log), files, origins


def _extended(path: Path, chain: tuple[Path, ...], log: list[Replacement], where: Location,
              confinement: Confinement) -> tuple[dict[str, Any], list[Path], dict[str, str]]:
    """An extended recipe's layers; a problem with the file itself (not a regular file,
    unreadable) is reported where `extends:` names it."""
    try:
        return _load_layers(path, chain, log, confinement)
    except RecipeError as error:
        first = error.problems[0]
        if len(error.problems) == 1 and first.location is not None \
                and first.location.line is None:
            raise RecipeError([Problem(f"{first.location.file}: {first.message}", where,
                                       "extends", first.hint)]) from None
        raise


def coerce(name: str, text: str, current: VariableValue | None) -> VariableValue:
    """A command-line value takes the type of the variable it overrides."""
    if isinstance(current, bool):
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise InputError(f"--set {name}={text}: {name} is a boolean; use true or false")
    if isinstance(current, int):
        try:
            return int(text, 0)
        except ValueError:
            raise InputError(f"--set {name}={text}: {name} is an integer") from None
    if isinstance(current, float):
        try:
            return float(text)
        except ValueError:
            raise InputError(f"--set {name}={text}: {name} is a number") from None
    if isinstance(current, list):
        return [part for part in text.replace(",", " ").split() if part]
    return text


def parse_assignment(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise InputError(f"--set {text!r}: expected NAME=VALUE")
    return name.strip(), value


def _apply_overrides(variables: dict[str, Any], overrides: Mapping[str, str | VariableValue],
                     source: str, origins: dict[str, str],
                     declared: Mapping[str, Mapping[str, Any]]) -> None:
    for name, value in overrides.items():
        origins[f"variables.{name}"] = source
        if name not in variables:
            close = difflib.get_close_matches(name, list(variables), n=1)
            hint = f"did you mean '{close[0]}'?" if close else (
                "known: " + ", ".join(sorted(variables)) if variables else "it has none")
            raise InputError(f"{source} sets '{name}', but the recipe has no such variable",
                             hint=hint)
        if isinstance(value, str) and name in declared:
            variables[name] = coerce_declared(value, declared[name])
        else:
            variables[name] = coerce(name, value, variables[name]) \
                if isinstance(value, str) else value


def load_vars_file(path: Path) -> dict[str, Any]:
    doc = load_document(path, "variables file")
    if not isinstance(doc.data, dict):
        raise RecipeError([Problem("a variables file must be a mapping of NAME: value",
                                   doc.where(()))])
    return doc.data


def load_recipe(path: Path, *, overrides: Sequence[tuple[str, str]] = (),
                vars_files: Sequence[Path] = (),
                confinement: Confinement | None = None) -> LoadedRecipe:
    """The recipe at PATH with its layers, --vars files and --set values applied; every
    host file it reads is within CONFINEMENT (composer/recipe/confine.py)."""
    if not os.path.lexists(path):
        raise RecipeError([Problem("recipe not found", Location(str(path)),
                                   hint=_stock_hint(str(path)))])
    confinement = confinement or Confinement()
    replaced: list[Replacement] = []
    data, files, origins = _load_layers(path, (), replaced, confinement)
    data.pop("extends", None)
    variables, declared = split(data.get("variables", {}))
    tree = recipe_tree(path)
    for vars_file in vars_files:
        reason = confinement.refusal(vars_file, tree)
        if reason is not None:
            raise InputError(f"--vars {vars_file} {reason}", hint=CONFINE_HINT)
        _apply_overrides(variables, load_vars_file(vars_file), f"variables file {vars_file}",
                         origins, declared)
        files.append(vars_file.resolve())
    _apply_overrides(variables, dict(overrides), "--set", origins, declared)
    problems = check(variables, declared,
                     {n: origins.get(f"declared.{n}", str(path)) for n in declared},
                     {n: origins.get(f"variables.{n}", "") for n in declared})
    if problems:
        raise RecipeError(problems)
    data["variables"] = variables
    data["name"] = path.name.removesuffix(".yaml").removesuffix(".yml")
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as error:
        raise RecipeError(_model_problems(error, path, origins)) from None
    return LoadedRecipe(recipe, path, tuple(files), data, origins, tuple(replaced),
                        confinement)


def _model_problems(error: ValidationError, path: Path, origins: Mapping[str, str]
                    ) -> list[Problem]:
    """The schema passed every file, so what the model refuses is a value no schema saw:
    a variable from a --vars file. pydantic reports one error per branch of the variable
    type; the user needs one line per value, saying where it came from."""
    problems: dict[str, Problem] = {}
    for e in error.errors():
        loc = e["loc"]
        key = format_key_path(tuple(loc[:2]) + tuple(p for p in loc[3:4] if isinstance(p, int)))
        if key in problems:
            continue
        value = e["input"]
        came = origins.get(".".join(str(p) for p in loc[:2]))
        message = (f"{type_name(value)} {value!r} is not a variable value (a string, number, "
                   "boolean or a list of them)"[:200] if loc[:1] == ("variables",)
                   else e["msg"])
        problems[key] = Problem(message + (f"; set by {came}" if came else ""),
                                Location(str(path)), key)
    # A list with a bad item: the item is the problem, not the list.
    return [p for key, p in problems.items() if not any(k.startswith(key + "[")
                                                        for k in problems)]
