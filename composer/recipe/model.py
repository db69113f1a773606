"""The recipe as typed, immutable values, built from schema-valid data.

The JSON Schema is the contract users and editors see; these models are what the code
works with. Data reaches them only after `schema.validate` passed, so the checks here
are the ones a schema can't express well (octal modes, one-of-two fields).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from composer.archive.compress import Codec, Compression

VariableValue = str | int | float | bool | list[str | int | float | bool]


def parse_mode(value: str | int | None) -> int | None:
    """Modes are octal whatever way they are written: 0755, "755", "0o755"."""
    if value is None:
        return None
    text = str(value)
    text = text[2:] if text.startswith("0o") else text
    return int(text, 8)


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Owned(Model):
    path: str
    at: str = ""
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    remove: bool = False

    @field_validator("mode", mode="before")
    @classmethod
    def _octal(cls, value: str | int | None) -> int | None:
        return parse_mode(value)


class Directory(Owned):
    pass


class File(Owned):
    source: str | None = None
    content: str | None = None


class Symlink(Model):
    path: str
    at: str = ""
    target: str = ""
    remove: bool = False


class Device(Owned):
    type: Literal["char", "block", "fifo"] = "char"
    major: int = 0
    minor: int = 0


class Template(Owned):
    source: str = ""


class Binary(Model):
    name: str
    at: str = ""
    path: str | None = None
    applets: Literal["all"] | list[str] | None = None
    remove: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class Module(Model):
    at: str = ""
    name: str | None = None
    pattern: str | None = None
    remove: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if value == "all":
            return {"pattern": "**"}
        return {"name": value} if isinstance(value, str) else value

    @property
    def identity(self) -> str:
        return f"name:{self.name}" if self.name is not None else f"pattern:{self.pattern}"


class Kernel(Model):
    image: str | None = None
    release: str | None = None
    cmdline: str | None = None
    firmware: bool = True


class CompressionSpec(Model):
    codec: Codec = Codec.NONE
    level: int | None = None
    threads: int = 0
    precompressed_segment: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"codec": value} if isinstance(value, str) else value

    def compression(self) -> Compression:
        return Compression(self.codec, self.level, self.threads)


class Output(Model):
    image: str | None = None
    initramfs: str | None = None
    netboot_limit: Literal["error", "warn", "ignore"] = "warn"


class Recipe(Model):
    """A whole recipe after extends were merged; `name` is the file's stem."""

    name: str = "recipe"
    description: str = ""
    variables: dict[str, VariableValue] = Field(default_factory=dict)
    arch: str | None = None
    kernel: Kernel = Field(default_factory=Kernel)
    compression: CompressionSpec = Field(default_factory=CompressionSpec)
    output: Output = Field(default_factory=Output)
    directories: list[Directory] = Field(default_factory=list)
    files: list[File] = Field(default_factory=list)
    symlinks: list[Symlink] = Field(default_factory=list)
    devices: list[Device] = Field(default_factory=list)
    templates: list[Template] = Field(default_factory=list)
    binaries: list[Binary] = Field(default_factory=list)
    modules: list[Module] = Field(default_factory=list)
