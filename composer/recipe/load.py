"""Read a recipe's YAML into plain data, keeping where every value was written.

PyYAML's safe loader is used to compose the node tree (marks included); the tree is
then turned into plain Python here so that each key path can be mapped back to a file,
line and column for error messages. Three YAML traps are closed on the way: alias bombs
(expansion is measured before anything is built), duplicate keys (an error, not "the
last one wins"), and YAML 1.1 octal guessing for modes (`mode: 755` means 0755).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from composer.errors import Location, Problem, RecipeError

KeyPath = tuple[str | int, ...]

# Far above any real recipe, far below what hurts: "billion laughs" stops here.
MAX_EXPANDED_NODES = 200_000
MAX_RECIPE_BYTES = 4 << 20
MAX_EXPANDED_TEXT = 4 * MAX_RECIPE_BYTES
# Real recipes nest four or five levels; PyYAML and the builder recurse per level.
MAX_DEPTH = 64
# Keys whose values are octal permission bits, whatever YAML thinks of the digits.
OCTAL_KEYS = frozenset({"mode"})
# Collections may only be what they look like: a tag such as !!python/object on a
# mapping would otherwise be dropped in silence.
PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


def format_key_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass
class Document:
    """A YAML document as plain data, with the location of every key and value."""

    data: Any
    file: str
    values: dict[KeyPath, Location] = field(default_factory=dict)
    keys: dict[KeyPath, Location] = field(default_factory=dict)

    def where(self, path: KeyPath, *, key: bool = False) -> Location:
        """The nearest location recorded for a key path (walking up to its parents)."""
        table = self.keys if key else self.values
        probe = path
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Location(self.file, 1, 1))


def _location(file: str, mark: yaml.Mark | None) -> Location:
    if mark is None:
        return Location(file)
    return Location(file, mark.line + 1, mark.column + 1)


def _expanded_size(root: yaml.Node) -> tuple[int, int]:
    """Nodes and characters of scalar text the document would have with every alias
    expanded, computed without expanding. Text counts too: a 1 MB string aliased a
    thousand times is a small file and a gigabyte once a template prints it."""
    sizes: dict[int, tuple[int, int]] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                children += [k, v]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if done or not children:
            text = len(node.value) if isinstance(node, yaml.ScalarNode) else 0
            size = (1 + sum(sizes[id(c)][0] for c in children),
                    text + sum(sizes[id(c)][1] for c in children))
            sizes[id(node)] = size
            if size[0] > MAX_EXPANDED_NODES or size[1] > MAX_EXPANDED_TEXT:
                return size
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _too_deep(root: yaml.Node) -> yaml.Node | None:
    """The first node nested deeper than MAX_DEPTH (aliases followed), if any."""
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:  # bounded: called once the expanded size is known to be small
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return node
        if isinstance(node, yaml.MappingNode):
            stack.extend((v, depth + 1) for _, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((c, depth + 1) for c in node.value)
    return None


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.doc = Document(None, file)
        self.problems: list[Problem] = []
        self.constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.doc.values[path] = _location(self.file, node.start_mark)
        if node.tag not in PLAIN_TAGS and not isinstance(node, yaml.ScalarNode):
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise yaml.constructor.ConstructorError(
                None, None, f"could not determine a constructor for the tag '{tag}'",
                node.start_mark)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if path and path[-1] in OCTAL_KEYS and node.tag == "tag:yaml.org,2002:int":
            return node.value  # keep the digits as written; the model reads them as octal
        return self.constructor.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        self.constructor.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.constructor.construct_object(key_node, deep=True)
            where = _location(self.file, key_node.start_mark)
            if not isinstance(key, str):
                self.problems.append(Problem(
                    f"keys must be strings, not {type(key).__name__} {key!r}", where,
                    format_key_path(path)))
                key = str(key)
            if key in out:
                first = self.doc.keys[(*path, key)]
                self.problems.append(Problem(
                    f"duplicate key {key!r} (first at line {first.line})", where,
                    format_key_path((*path, key)), "YAML would silently keep only the last"))
                continue
            self.doc.keys[(*path, key)] = where
            out[key] = self.build(value_node, (*path, key))
        return out


def _syntax_problem(error: yaml.MarkedYAMLError, file: str) -> Problem:
    """PyYAML's finding, at the place to edit, with the start of the construct it was
    reading when that is elsewhere (an unclosed quote is found at the end of the file)."""
    mark = error.problem_mark or error.context_mark
    message = error.problem or error.context or "invalid YAML"
    if isinstance(error, yaml.constructor.ConstructorError) and error.problem and \
            "constructor for the tag" in error.problem:
        tag = error.problem.split("'")[1] if "'" in error.problem else "?"
        tag = tag.replace("tag:yaml.org,2002:", "!!")
        return Problem(f"unsupported YAML tag '{tag}'", _location(file, mark),
                       hint="recipes use plain YAML: strings, numbers, lists and mappings")
    if error.problem == "but found another document":
        return Problem("a second YAML document starts here", _location(file, mark),
                       hint="a recipe is one document: remove this '---' or split the file")
    if error.context and error.problem:
        context = error.context
        start = error.context_mark
        if start is not None and mark is not None and start.line != mark.line:
            context += f" that starts at line {start.line + 1}, column {start.column + 1}"
        message = f"{error.problem} ({context})"
    hint = ""
    if "'\\t'" in message:
        hint = "YAML indents with spaces; replace the tab"
    elif "<block end>" in message or "mapping values are not allowed" in message:
        hint = ("check this line's indentation against the lines above, and quote values "
                "that contain ': '")
    return Problem(f"YAML syntax error: {message}", _location(file, mark), hint=hint)


def parse_document(text: str, file: str) -> Document:
    """Parse YAML text; every problem is a RecipeError with a location."""
    if len(text) > MAX_RECIPE_BYTES:
        raise RecipeError([Problem(f"file is {len(text)} bytes; a recipe is at most "
                                   f"{MAX_RECIPE_BYTES}", Location(file))])
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        raise RecipeError([_syntax_problem(error, file)]) from None
    except yaml.YAMLError as error:
        raise RecipeError([Problem(f"YAML error: {error}", Location(file))]) from None
    except RecursionError:
        raise RecipeError([Problem(f"YAML nested deeper than {MAX_DEPTH} levels; refusing",
                                   Location(file))]) from None
    if root is None:
        return Document({}, file, {(): Location(file, 1, 1)})
    nodes, chars = _expanded_size(root)
    if nodes > MAX_EXPANDED_NODES or chars > MAX_EXPANDED_TEXT:
        what = (f"{MAX_EXPANDED_NODES:,} nodes" if nodes > MAX_EXPANDED_NODES
                else f"{MAX_EXPANDED_TEXT:,} characters of text")
        raise RecipeError([Problem(
            f"YAML aliases expand to more than {what}; refusing (an alias bomb?)",
            _location(file, root.start_mark))])
    deep = _too_deep(root)
    if deep is not None:
        raise RecipeError([Problem(f"YAML nested deeper than {MAX_DEPTH} levels; refusing",
                                   _location(file, deep.start_mark))])
    builder = _Builder(file)
    try:
        data = builder.build(root, ())
    except yaml.MarkedYAMLError as error:
        raise RecipeError([_syntax_problem(error, file)]) from None
    except yaml.YAMLError as error:
        raise RecipeError([Problem(f"YAML error: {error}", Location(file))]) from None
    if builder.problems:
        raise RecipeError(builder.problems)
    builder.doc.data = data
    return builder.doc


def load_document(path: Path, what: str = "recipe") -> Document:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RecipeError([Problem(f"{what} not found", Location(str(path)))]) from None
    except IsADirectoryError:
        raise RecipeError([Problem(f"is a directory, not a {what}",
                                   Location(str(path)))]) from None
    except OSError as error:
        raise RecipeError([Problem(f"cannot read: {error.strerror}",
                                   Location(str(path)))]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - raw.rfind(b"\n", 0, error.start)
        raise RecipeError([Problem(
            f"not UTF-8 text (byte {raw[error.start]:#04x})", Location(str(path), line, column),
            hint="save the file as UTF-8")]) from None
    return parse_document(text, str(path))
