"""Jinja2 itself: templates rendered in the sandbox, their errors mapped to template:line.

A template must not reach Python internals (`''.__class__.__mro__`) or burn memory
(`'x' * 10**10`), and a misspelt variable must be an error naming the template, line
and variable, never an empty string in /init.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import jinja2

from composer.errors import InputError
from composer.inputfile import UnreadableFile, read_regular_file
from composer.render.sandbox import MAX_MEMORY, MAX_RESULT, Sandbox, memory_cap

# A file a render looked for, and what it held (None: there was no file), so that a
# stored render can be checked against the files as they are now (composer/cache/render.py).
Probe = tuple[str, bytes | None]


class _Loader(jinja2.FileSystemLoader):
    """FileSystemLoader that reads only regular files, and at most MAX_RESULT bytes:
    `{% include %}` of a FIFO would block, of /dev/zero never end; and only files in
    the template's own directory tree, a link that leads out included (confined
    recipes, composer/recipe/confine.py). Every path it looks
    at is added to `probes`, found or not (`ignore missing` renders differently once
    the file appears)."""

    def __init__(self, search: list[str], read: list[Path] | None = None,
                 probes: list[Probe] | None = None) -> None:
        super().__init__(search)
        self.read = read
        self.probes = probes

    def get_source(self, environment: jinja2.Environment, template: str
                   ) -> tuple[str, str, Callable[[], bool]]:
        try:
            _, filename, uptodate = super().get_source(environment, template)
        except jinja2.exceptions.TemplateNotFound:
            if self.probes is not None and ".." not in template.split("/"):
                pieces = jinja2.loaders.split_template_path(template)
                self.probes += [(posixpath.join(s, *pieces), None) for s in self.searchpath]
            raise
        real = Path(filename).resolve()
        if not any(real.is_relative_to(Path(s).resolve()) for s in self.searchpath):
            # Jinja refuses ".." in a name; a link is the one way out of the directory.
            raise jinja2.exceptions.TemplateNotFound(
                template, f"included template {template!r} is a link to {real}, outside "
                          f"the template's directory {self.searchpath[0]}: refused")
        if self.read is not None:
            self.read.append(Path(filename))
        try:
            raw = read_regular_file(Path(filename), MAX_RESULT)
        except UnreadableFile as error:
            raise jinja2.exceptions.TemplateNotFound(
                template, f"included template {template!r} {error.message}") from None
        if self.probes is not None:
            self.probes.append((filename, raw))
        try:
            return raw.decode("utf-8"), filename, uptodate
        except UnicodeDecodeError:
            raise jinja2.exceptions.TemplateNotFound(
                template, f"included template {template!r} is not UTF-8 text") from None


def shquote(value: object) -> str:
    """VALUE as one single-quoted POSIX shell word (`{{ var | shquote }}`): whatever a
    recipe variable holds, the rendered script treats it as data. A list becomes its
    items joined by single spaces, the form a shell loop over words reads."""
    if isinstance(value, list | tuple):
        value = " ".join(str(item) for item in value)
    return "'" + str(value).replace("'", "'\\''") + "'"


def _environment(search: list[Path]) -> Sandbox:
    return Sandbox(
        extra_filters={"shquote": shquote},
        loader=_Loader([str(p) for p in search]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _where(error: Exception, name: str, included: set[str]) -> str:
    """template:line of the innermost template frame that raised `error` (Jinja maps
    the frames of its generated code back to template lines)."""
    lineno = getattr(error, "lineno", None)
    if lineno and not isinstance(error, jinja2.exceptions.TemplateNotFound):
        filename = getattr(error, "filename", None)
        file = filename if filename in included else name
        return f"{file}:{lineno}"
    tb = error.__traceback__
    where = name
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in (name, "<template>") or filename in included:
            file = name if filename == "<template>" else filename
            where = f"{file}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _explain(error: Exception, name: str, included: set[str],
             known: Iterable[str] = ()) -> InputError:
    where = _where(error, name, included)
    if isinstance(error, jinja2.exceptions.UndefinedError):
        match = re.search(r"'([^']+)' is undefined", str(error))
        what = f"undefined variable '{match.group(1)}'" if match else str(error)
        close = difflib.get_close_matches(match.group(1), sorted(known), n=1) \
            if match else []
        return InputError(f"template {where}: {what}",
                          hint=f"did you mean '{close[0]}'?" if close else
                          "define it under 'variables:' or pass --set NAME=VALUE")
    if isinstance(error, jinja2.exceptions.SecurityError):
        return InputError(f"template {where}: blocked by the sandbox: {error}")
    if isinstance(error, jinja2.exceptions.TemplateSyntaxError):
        return InputError(f"template {where}: syntax error: {error.message}")
    if isinstance(error, jinja2.exceptions.TemplateNotFound):
        reason = error.message if (error.message or "").startswith("included template") \
            else f"included template {error.name!r} not found"
        return InputError(f"template {where}: {reason}")
    if isinstance(error, MemoryError):
        return InputError(f"template {where}: blocked by the sandbox: it needs more than "
                          f"{MAX_MEMORY >> 20} MB of memory")
    if isinstance(error, RecursionError):
        return InputError(f"template {where}: recursion too deep (a macro calling itself?)")
    detail = f": {error}" if str(error) else ""
    return InputError(f"template {where}: {type(error).__name__}{detail}")


def _bounded(chunks: Iterator[str]) -> str:
    """Join a template's output, stopping at MAX_RESULT: loops can multiply text as
    surely as '*' can (`{% for i in range(99999) %}{{ big }}{% endfor %}`)."""
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_RESULT:
            raise jinja2.exceptions.SecurityError(
                f"output longer than {MAX_RESULT:,} characters")
        parts.append(chunk)
    return "".join(parts)


def render_text(text: str, variables: Mapping[str, object], name: str,
                search: list[Path] | None = None, included: list[Path] | None = None,
                probes: list[Probe] | None = None) -> str:
    """Render template text; `name` is what errors call it (a path, or a recipe key);
    the files `{% include %}` read are added to `included`, every file looked for to
    `probes`."""
    env = _environment(search or [])
    if included is not None or probes is not None:
        env.loader = _Loader([str(p) for p in search or []], included, probes)
    try:
        with memory_cap():
            template = env.from_string(text)
            template.filename = name
            return _bounded(template.generate(dict(variables)))
    except Exception as error:  # whatever a template raises is the template's error
        names = {t.filename for t in (env.cache or {}).values() if t.filename}
        raise _explain(error, name, names, variables) from None
