"""The recipe as typed, immutable values, built from schema-valid data.

The JSON Schema is the contract users and editors see; these dataclasses are what the
code works with. Data reaches them only after `schema.validate` passed, so building
them is a matter of picking fields, not of checking them: modes are read as octal and
the short forms (`- busybox`, `compression: gzip`) become their mappings. Variables are
the exception, since a `--vars` file is not checked by the schema; a value that is not a
plain scalar or list goes to pydantic, imported then, whose verdict is the error.
(pydantic models were slower to define at start-up than the whole rest of a build.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeVar

from composer.archive.codec import Codec, Compression
from composer.errors import InputError
from composer.value import Value

VariableValue = str | int | float | bool | list[str | int | float | bool]
SCALARS = (str, int, float, bool)

T = TypeVar("T")

# Fields the loader fills in, which a recipe cannot write: where an entry was written
# (file:line:col) and the recipe's name (its file's stem). Every other field is a key
# of the schema, and every key of the schema is a field (tests/unit/test_recipe_shape.py).
SET_BY_LOADER = {"set_by": "loader"}


def parse_mode(value: str | int | None) -> int | None:
    """Modes are octal whatever way they are written: 0755, "755", "0o755"."""
    if value is None:
        return None
    text = str(value)
    text = text[2:] if text.startswith("0o") else text
    return int(text, 8)


@dataclass(frozen=True, eq=False, repr=False)
class Owned(Value):
    """An entry that has a path, a mode and an owner (directories, files, devices, templates)."""

    path: str
    at: str = field(default="", metadata=SET_BY_LOADER)
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    remove: bool = False


@dataclass(frozen=True, eq=False, repr=False)
class Directory(Owned):
    """A directory of the image (`directories:`)."""


@dataclass(frozen=True, eq=False, repr=False)
class File(Owned):
    """A file copied from SOURCE or written from CONTENT (`files:`)."""

    source: str | None = None
    content: str | None = None


@dataclass(frozen=True, eq=False, repr=False)
class Symlink(Value):
    """A symbolic link to TARGET (`symlinks:`)."""

    path: str
    at: str = field(default="", metadata=SET_BY_LOADER)
    target: str = ""
    remove: bool = False


@dataclass(frozen=True, eq=False, repr=False)
class Device(Owned):
    """A character or block device node, or a FIFO (`devices:`)."""

    type: Literal["char", "block", "fifo"] = "char"
    major: int = 0
    minor: int = 0


@dataclass(frozen=True, eq=False, repr=False)
class Template(Owned):
    """A file rendered by Jinja from SOURCE with the recipe's variables (`templates:`)."""

    source: str = ""


@dataclass(frozen=True, eq=False, repr=False)
class Binary(Value):
    """A program from the sysroot, with its libraries and, for busybox, applets."""

    name: str
    at: str = field(default="", metadata=SET_BY_LOADER)
    path: str | None = None
    applets: Literal["all"] | list[str] | None = None
    remove: bool = False


@dataclass(frozen=True, eq=False, repr=False)
class Module(Value):
    """A kernel module by NAME, or every module matching PATTERN, with dependencies."""

    at: str = field(default="", metadata=SET_BY_LOADER)
    name: str | None = None
    pattern: str | None = None
    remove: bool = False

    @property
    def identity(self) -> str:
        return f"name:{self.name}" if self.name is not None else f"pattern:{self.pattern}"


@dataclass(frozen=True, eq=False, repr=False)
class Kernel(Value):
    """Which kernel of the sysroot boots the image, and its command line."""

    image: str | None = None
    release: str | None = None
    cmdline: str | None = None
    firmware: bool = True


@dataclass(frozen=True, eq=False, repr=False)
class CompressionSpec(Value):
    """How the initramfs is compressed, as the recipe writes it."""

    codec: Codec = Codec.NONE
    level: int | None = None
    threads: int = 0
    precompressed_segment: bool = False

    def compression(self) -> Compression:
        return Compression(self.codec, self.level, self.threads)


@dataclass(frozen=True, eq=False, repr=False)
class Output(Value):
    """Where the build writes, and what an image over the netboot limit does."""

    image: str | None = None
    initramfs: str | None = None
    netboot_limit: Literal["error", "warn", "ignore"] = "warn"
    layout: Literal["s390-tools", "fixed-16m", "fixed-32m"] = "s390-tools"
    ins: str | None = None


@dataclass(frozen=True, eq=False, repr=False)
class Recipe(Value):
    """A whole recipe after extends were merged; `name` is the file's stem."""

    name: str = field(default="recipe", metadata=SET_BY_LOADER)
    description: str = ""
    variables: dict[str, VariableValue] = field(default_factory=dict)
    arch: str | None = None
    kernel: Kernel = field(default_factory=Kernel)
    compression: CompressionSpec = field(default_factory=CompressionSpec)
    output: Output = field(default_factory=Output)
    directories: list[Directory] = field(default_factory=list)
    files: list[File] = field(default_factory=list)
    symlinks: list[Symlink] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    templates: list[Template] = field(default_factory=list)
    binaries: list[Binary] = field(default_factory=list)
    modules: list[Module] = field(default_factory=list)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Recipe:
        """The recipe from merged, schema-valid data; VariableError for bad variables."""
        values = dict(data)
        values["variables"] = checked_variables(values.get("variables", {}))
        for key, kind in (("kernel", Kernel), ("output", Output)):
            if key in values:
                values[key] = build(kind, values[key])
        if "compression" in values:
            spec = values["compression"]
            spec = {"codec": spec} if isinstance(spec, str) else dict(spec)
            if "codec" in spec:
                spec["codec"] = Codec(spec["codec"])
            values["compression"] = build(CompressionSpec, spec)
        for key, entry in ENTRY_KINDS.items():
            if key in values:
                values[key] = [build(entry, _entry(key, item)) for item in values[key]]
        return build(cls, values)


ENTRY_KINDS: dict[str, type] = {
    "directories": Directory, "files": File, "symlinks": Symlink, "devices": Device,
    "templates": Template, "binaries": Binary, "modules": Module,
}
INTEGERS = frozenset({"uid", "gid", "major", "minor", "level", "threads"})


def _entry(key: str, item: Any) -> dict[str, Any]:
    """An entry list item as a mapping, its short string form spelt out."""
    if isinstance(item, str):
        return {"pattern": "**"} if key == "modules" and item == "all" else {"name": item}
    values = dict(item)
    if "mode" in values:
        values["mode"] = parse_mode(values["mode"])
    if isinstance(values.get("applets"), list):
        values["applets"] = list(values["applets"])
    return values


_FIELD_NAMES: dict[type, frozenset[str]] = {}


def build(kind: type[T], values: Mapping[str, Any]) -> T:
    """`kind` from its fields' keys. Keys starting with x- are notes and are dropped; any
    other key refuses, as the schema does (data reaches here schema-valid, so one would
    mean the two had drifted apart). The schema's integers may be written 3.0; they are
    kept as ints."""
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = frozenset(f.name for f in fields(kind))  # type: ignore[arg-type]
    unknown = [k for k in values if k not in names and not str(k).startswith("x-")]
    if unknown:
        raise UnknownKeys(kind, unknown)
    return kind(**{k: int(v) if k in INTEGERS and isinstance(v, float) else v
                   for k, v in values.items() if k in names})


class UnknownKeys(InputError):
    """Keys the recipe model has no field for."""

    def __init__(self, kind: type, keys: list[Any]) -> None:
        self.keys = keys
        known = sorted(f.name for f in fields(kind) if not f.metadata)
        super().__init__(f"unknown key{'s' if len(keys) > 1 else ''} "
                         f"{', '.join(repr(k) for k in keys)} in {kind.__name__}",
                         hint="known keys: " + ", ".join(known))


class VariableError(ValueError):
    """Variables that are not strings, numbers, booleans or lists of them."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems  # (key path, message), as pydantic words them


def checked_variables(variables: Mapping[str, Any]) -> dict[str, VariableValue]:
    """A copy of the variables; anything but plain values is left to pydantic to judge
    (and coerce, when it accepts it), so its messages stay what users have seen."""
    if all(_plain(value) for value in variables.values()):
        return {name: list(value) if isinstance(value, list) else value
                for name, value in variables.items()}
    from pydantic import TypeAdapter, ValidationError

    try:
        checked: dict[str, VariableValue] = TypeAdapter(
            dict[str, VariableValue]).validate_python(variables)
    except ValidationError as error:
        raise VariableError([(("variables", *e["loc"]), e["msg"])
                             for e in error.errors()]) from None
    return checked


def _plain(value: Any) -> bool:
    if type(value) is list:
        return all(type(item) in SCALARS for item in value)
    return type(value) in SCALARS
