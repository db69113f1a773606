"""Read a recipe's YAML into plain data, keeping where every value was written.

PyYAML's safe loader is used to compose the node tree (marks included); the tree is
then turned into plain Python here so that each key path can be mapped back to a file,
line and column for error messages. Four YAML traps are closed on the way: alias bombs
and aliases inside their own anchor (expansion is measured before anything is built),
duplicate keys (an error, not "the last one wins"), YAML 1.1 octal guessing for modes
(`mode: 755` means 0755), and files that are not files (a FIFO would block the read,
/dev/zero would never end it: the type is checked on the open descriptor, and the read
is capped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from composer.errors import Location, Problem, RecipeError
from composer.inputfile import UnreadableFile, read_regular_file

if TYPE_CHECKING:
    import yaml

KeyPath = tuple[str | int, ...]

# Far above any real recipe, far below what hurts: "billion laughs" stops here. The
# bounds are on what aliases add to the written document, not on its size: a recipe of
# 100,000 plain entries is big, not a bomb (its size is bounded by MAX_RECIPE_BYTES).
MAX_ALIAS_NODES = 200_000
MAX_ALIAS_TEXT = 16 << 20
MAX_RECIPE_BYTES = 32 << 20
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


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _text(node: yaml.Node) -> int:
    return len(node.value) if isinstance(node, yaml.ScalarNode) else 0


def _written_size(root: yaml.Node) -> tuple[int, int, bool]:
    """Nodes and characters of scalar text as written (each node once), and whether
    any node is reached twice, which only an alias does."""
    seen = {id(root)}
    stack = [root]
    nodes = chars = 0
    shared = False
    while stack:
        node = stack.pop()
        nodes += 1
        chars += _text(node)
        for child in _children(node):
            if id(child) in seen:
                shared = True
            else:
                seen.add(id(child))
                stack.append(child)
    return nodes, chars, shared


def _anchor_at(node: yaml.Node, text: str) -> str:
    """The `&name` written where `node` starts, for messages."""
    start = node.start_mark.index
    match = re.match(r"&([^\s,\[\]{}]+)", text[start:start + 200])
    return f" &{match.group(1)}" if match else ""


def check_expansion(root: yaml.Node, file: str, text: str) -> None:
    """Refuse an alias inside its own anchor (its expansion never ends) and aliases that
    add more than MAX_ALIAS_NODES nodes or MAX_ALIAS_TEXT characters to what is written.

    Text counts too: a 1 MB string aliased a thousand times is a small file and a
    gigabyte once a template prints it. Sizes are computed without expanding, bottom-up
    over the node graph; a node met again while its own children are being measured is
    its own ancestor: a cycle.
    """
    written_nodes, written_text, shared = _written_size(root)
    if not shared:
        return  # a tree: nothing expands
    limit = (written_nodes + MAX_ALIAS_NODES, written_text + MAX_ALIAS_TEXT)
    sizes: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()  # measuring their children: ancestors of the stack top
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if not done and id(node) in open_nodes:
            anchor = _anchor_at(node, text)
            raise RecipeError([Problem(
                f"YAML alias refers to the anchor{anchor} it is inside, so it would "
                "expand forever; refusing", _location(file, node.start_mark),
                hint="an alias can only repeat a node that is complete before it")])
        if done or not children:
            size = (1 + sum(sizes[id(c)][0] for c in children),
                    _text(node) + sum(sizes[id(c)][1] for c in children))
            sizes[id(node)] = size
            open_nodes.discard(id(node))
            if size[0] > limit[0] or size[1] > limit[1]:
                what = (f"{MAX_ALIAS_NODES:,} nodes" if size[0] > limit[0]
                        else f"{MAX_ALIAS_TEXT:,} characters of text")
                raise RecipeError([Problem(
                    f"YAML aliases expand to more than {what} beyond what is written; refusing "
                    "(an alias bomb?)", _location(file, root.start_mark))])
            continue
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)


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


def _is_entry_mode(path: KeyPath) -> bool:
    """`files[3].mode`, not `variables.mode`: only an entry's mode is octal digits."""
    return len(path) >= 3 and path[-1] in OCTAL_KEYS and isinstance(path[-2], int)


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
        if _is_entry_mode(path) and node.tag == "tag:yaml.org,2002:int":
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


def _compose(text: str) -> yaml.Node | None:
    """The node tree, by libyaml when PyYAML has it (a 100,000-entry recipe parses in a
    third of the time); a document libyaml refuses is parsed again by PyYAML, whose
    messages and marks are the ones the error reports are written for."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            node: yaml.Node | None = yaml.compose(text, Loader=fast)
            return node
        except (yaml.YAMLError, RecursionError):
            pass
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    return node


def _reader_problem(error: yaml.reader.ReaderError, text: str, file: str) -> Problem:
    """A character YAML forbids (a control character, most often pasted by accident),
    at its line and column: the reader reports only a position in the text."""
    position = error.position if isinstance(error.position, int) else 0
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    code = error.character if isinstance(error.character, int) else 0
    return Problem(f"YAML does not allow the control character U+{code:04X} here",
                   Location(file, line, column),
                   hint=f'write it as "\\x{code:02x}" inside a double-quoted string, '
                        "or remove it" if code < 0x100 else "remove it")


def _import_yaml() -> None:
    """PyYAML, imported by the first parse: a recipe from the parse cache needs none,
    and its import is a tenth of a small build. Every use of `yaml` below is reached
    through parse_document."""
    global yaml
    import yaml


def parse_document(text: str, file: str) -> Document:
    """Parse YAML text; every problem is a RecipeError with a location."""
    _import_yaml()
    if len(text) > MAX_RECIPE_BYTES:
        raise RecipeError([Problem(f"file is {len(text):,} characters; a recipe is at most "
                                   f"{MAX_RECIPE_BYTES:,}", Location(file))])
    try:
        root = _compose(text)
    except yaml.reader.ReaderError as error:
        raise RecipeError([_reader_problem(error, text, file)]) from None
    except yaml.MarkedYAMLError as error:
        raise RecipeError([_syntax_problem(error, file)]) from None
    except yaml.YAMLError as error:
        raise RecipeError([Problem(f"YAML error: {error}", Location(file))]) from None
    except RecursionError:
        raise RecipeError([Problem(f"YAML nested deeper than {MAX_DEPTH} levels; refusing",
                                   Location(file))]) from None
    if root is None:
        return Document({}, file, {(): Location(file, 1, 1)})
    check_expansion(root, file, text)
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
        raw = read_regular_file(path, MAX_RECIPE_BYTES)
    except UnreadableFile as error:
        raise RecipeError([Problem(f"{what} {error.message}", Location(str(path)))]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - raw.rfind(b"\n", 0, error.start)
        raise RecipeError([Problem(
            f"not UTF-8 text (byte {raw[error.start]:#04x})", Location(str(path), line, column),
            hint="save the file as UTF-8")]) from None
    return _parse_cached(text, str(path))


def _parse_cached(text: str, file: str) -> Document:
    """parse_document, or the same Document from the parse cache."""
    from composer.cache.parse import ParseCache

    cache = ParseCache.open()
    if cache is None:
        return parse_document(text, file)
    key = cache.key(file, text)
    hit = cache.get(key, file)
    if hit is not None:
        return Document(hit[0], file, hit[1], hit[2])
    doc = parse_document(text, file)
    cache.put(key, file, doc.data, doc.values, doc.keys)
    return doc
