"""The Jinja sandbox templates run in: no Python internals, and a budget for everything.

The stock SandboxedEnvironment blocks `''.__class__.__mro__`; it does not bound time or
memory. Bounding only what a template prints is not enough: an empty nested loop
prints nothing for hours, and `~`, `%`, `replace` or `lipsum` build a string before
anything is printed. So every operation a template can repeat is charged to a step
budget of the render, deterministically (the same template always fails at the same
point, on any machine):

- each loop iteration (the code generator wraps the iterable of every `for`),
- each call, filter, attribute or item lookup, arithmetic operator, `~`, comparison
  and printed expression; the ones that touch long strings pay by the KiB.

Operations that multiply memory in one step are refused before they run, from their
arguments (`'x' * n`, `'%*d' % (n, 1)`, `replace`, `join`, `~`, `lipsum`, a container
printed whole). Memory kept across steps (a list appended to in a loop) is bounded
by the address space a render may add (`memory_cap`), the one bound no template can
talk its way around.
"""

from __future__ import annotations

import functools
import inspect
import re
import resource
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import SandboxedEnvironment

MAX_RESULT = 16 << 20  # characters one operation, or a template's output, may produce
MAX_ITEMS = 1 << 20  # items of a list an operator may build
MAX_STEPS = 400_000  # loop iterations and operations of one render (real ones: < 10,000)
MAX_MEMORY = 160 << 20  # bytes of address space a render may add to the process
STEP_BYTES = 1024  # an operation on a long string costs one more step per KiB


class BudgetExceeded(jinja2.exceptions.SecurityError):
    """A template ran out of steps or memory; a SecurityError so that it reads as one."""


@contextmanager
def memory_cap() -> Iterator[None]:
    """Lower the soft RLIMIT_AS to the current size plus MAX_MEMORY for the block, so
    that a template that keeps building gets a MemoryError instead of the machine's
    memory. Without /proc (no current size to start from) only the other bounds apply."""
    try:
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + MAX_MEMORY
    if (soft != resource.RLIM_INFINITY and soft <= cap) or \
            (hard != resource.RLIM_INFINITY and hard < cap):
        yield  # already as tight
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def text_weight(value: Any, limit: int, visits: int) -> tuple[int, int]:
    """(characters, items visited): a bound on what str(value) would produce, found
    without producing it; the walk stops once past `limit` characters or `visits`
    items. A list of a thousand references to one long string is small in memory and
    huge once printed."""
    total = visited = 0
    stack = [value]
    while stack and total <= limit and visited <= visits:
        item = stack.pop()
        visited += 1
        if isinstance(item, str):
            total += len(item) if item is value else 4 * len(item) + 2  # repr escapes
        elif isinstance(item, bytes):
            total += 4 * len(item) + 3
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            stack.extend(i for i in item if i is not item)  # a list in itself: [...]
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() // 3 + 2
        else:
            total += 32
    return total, visited


# printf conversions with their width and precision (`*` takes them from the arguments)
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")
# str.format fields; a `{}` nested in the spec also takes a number from the arguments
_FIELD = re.compile(r"\{[^{}:]*:((?:[^{}]|\{[^{}]*\})*)\}")
_DIGITS = re.compile(r"\d+|\{[^{}]*\}")


def _numbers(args: Any) -> int:
    values = args.values() if isinstance(args, dict) else (
        args if isinstance(args, tuple | list) else (args,))
    return sum(abs(v) for v in values if isinstance(v, int) and not isinstance(v, bool))


def format_widths(text: str, args: Any) -> int:
    """The padding a format string may add: its widths and precisions, with every
    number among the arguments counted once for each width taken from them."""
    total = from_args = 0
    for match in _PERCENT.finditer(text):
        for part in match.groups():
            if part == "*":
                from_args += 1
            elif part:
                total += int(part) if len(part) < 10 else MAX_RESULT + 1
    for match in _FIELD.finditer(text):
        for part in _DIGITS.findall(match.group(1)):
            if part.startswith("{"):
                from_args += 1
            else:
                total += int(part) if len(part) < 10 else MAX_RESULT + 1
    return total + (from_args * _numbers(args) if from_args else 0)


class _CountingCodeGenerator(CodeGenerator):
    """Jinja's code generator with the budget's hooks in the loops and `~`.

    The sandbox sees calls, lookups and operators, but not a loop's iterations, `~` or
    comparisons; these are routed through environment methods here.
    """

    def _through(self, method: str, node: nodes.Node) -> nodes.Expr:
        return nodes.Call(nodes.EnvironmentAttribute(method), [node], [], None, None,
                          lineno=node.lineno)

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        node.iter = self._through("steps_of", node.iter)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.tilde((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Compare(self, node: nodes.Compare, frame: Frame) -> None:
        node.expr = self._through("compared", node.expr)
        for operand in node.ops:
            operand.expr = self._through("compared", operand.expr)
        super().visit_Compare(node, frame)


def _bounded_lipsum(sandbox: Sandbox, function: Any) -> Any:
    """lipsum picks each word at random: it costs a step per word, like a loop would."""
    # Jinja's own signature, `min` and `max` included.
    def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:
        words = abs(n) * (abs(max) + 1)
        if words * 12 > MAX_RESULT:  # a word is at most 11 letters and a space
            raise jinja2.exceptions.SecurityError(
                f"lipsum of {n} paragraphs of up to {max} words is too large for a template")
        sandbox.charge(3 * words)  # measured: a word costs about three loop steps
        return function(n=n, html=html, min=min, max=max)
    return lipsum


class Sandbox(SandboxedEnvironment):
    """The stock sandbox, with every operation charged to one render's budget."""

    code_generator_class = _CountingCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, extra_filters: dict[str, Any] | None = None, **options: Any) -> None:
        super().__init__(finalize=self._printed, **options)
        self.steps = 0
        self.filters.update(extra_filters or {})
        self.filters = {name: self._bounded_filter(name, f) for name, f in self.filters.items()}
        self.globals["lipsum"] = _bounded_lipsum(self, self.globals["lipsum"])

    # --- the budget -----------------------------------------------------------------

    def charge(self, steps: int = 1, *values: Any) -> None:
        for value in values:
            if isinstance(value, str | bytes):
                steps += len(value) // STEP_BYTES
        self.steps += steps
        if self.steps > MAX_STEPS:
            raise BudgetExceeded(f"more than {MAX_STEPS:,} steps (loop iterations and "
                                 "operations); a template this busy is a runaway loop")

    def built(self, value: Any) -> Any:
        """An operation's result, refused if it is text over MAX_RESULT (for the ones no
        check could size beforehand: the next operation would multiply it again)."""
        if isinstance(value, str | bytes):
            if len(value) > MAX_RESULT:
                raise BudgetExceeded(f"a value longer than {MAX_RESULT:,} characters")
            self.charge(len(value) // STEP_BYTES)
        return value

    def weigh(self, value: Any, what: str) -> None:
        """Refuse to turn a value into text whose size would be over MAX_RESULT."""
        if isinstance(value, str | int | float | bool) or value is None:
            return
        chars, visited = text_weight(value, MAX_RESULT, MAX_STEPS - self.steps)
        self.charge(visited)  # an item weighed costs about what a loop iteration does
        if chars > MAX_RESULT:
            raise BudgetExceeded(f"{what} would be longer than {MAX_RESULT:,} characters")

    # --- hooks of the generated code ------------------------------------------------

    def steps_of(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.charge()
            yield item

    def compared(self, value: Any) -> Any:
        self.charge(1, value)
        return value

    def tilde(self, parts: tuple[Any, ...]) -> str:
        size = 0
        for part in parts:
            self.weigh(part, "the result of '~'")
            size += len(part) if isinstance(part, str) else 0
        if size > MAX_RESULT:
            raise BudgetExceeded("result of '~' too large for a template")
        self.charge(1, *parts)
        return str(self.built("".join(map(str, parts))))

    def _printed(self, value: Any) -> Any:
        self.charge(1, value)
        self.weigh(value, "a printed value")
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as error:
                raise jinja2.exceptions.SecurityError(
                    f"prints {value[error.start]!r}, a lone surrogate that is not UTF-8 text "
                    "(from bytes that were not UTF-8, such as a --set value?)") from None
        return value

    # --- the sandbox's own hooks ----------------------------------------------------

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.charge()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.charge()
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.charge(1, left, right)
        check_binop(operator, left, right)
        if operator == "%":
            self.weigh(right, "the result of '%'")
        return self.built(super().call_binop(context, operator, left, right))

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(__obj, "__name__", "a function")
        owner = getattr(inspect.unwrap(__obj), "__self__", None)
        self._check_call(f"'{name}'", name, owner, args, kwargs)
        return self.built(super().call(__context, __obj, *args, **kwargs))

    def _check_call(self, what: str, name: str, owner: Any, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> None:
        self.charge(1, owner, *args, *kwargs.values())
        check_numbers(what, args, kwargs)
        for value in (*args, *kwargs.values()):
            self.weigh(value, f"an argument of {what}")
        if isinstance(owner, str):
            if name in ("format", "format_map"):
                check_format(owner, args[0] if name == "format_map" and args else args)
            elif name == "join" and args:
                check_join(owner, args[0])
            elif name == "replace" and len(args) >= 2:
                check_replace(owner, args[0], args[1])

    def _bounded_filter(self, name: str, function: Any) -> Any:
        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            values = [a for a in args if not isinstance(
                a, jinja2.runtime.Context | jinja2.nodes.EvalContext | jinja2.Environment)]
            self._check_call(f"the filter '{name}'", "", None, tuple(values), kwargs)
            if name == "format" and values:
                check_format(values[0], tuple(values[1:]) or kwargs)
            if name == "join" and values:
                separator = values[1] if len(values) > 1 else kwargs.get("d", "")
                check_join(separator if isinstance(separator, str) else "", values[0])
            if name == "replace" and len(values) >= 3:
                check_replace(values[0], values[1], values[2])
            return self.built(function(*args, **kwargs))
        return checked


# --- checks on arguments, before an operation runs -----------------------------------

def check_numbers(what: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a call whose numbers could build a huge string in one step
    ('x'.center(10**9), 'x'|indent(10**9)): the output bound would come too late."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_RESULT:
            raise jinja2.exceptions.SecurityError(f"number {value} too large for {what}")


def check_format(text: Any, args: Any) -> None:
    if isinstance(text, str) and format_widths(text, args) > MAX_RESULT:
        raise jinja2.exceptions.SecurityError("format width too large for a template")


def check_join(separator: str, items: Any) -> None:
    """`range(99999)|join(big)` repeats the separator once per item."""
    count = len(items) if isinstance(items, list | tuple | range | str | dict) else 0
    if count * len(separator) > MAX_RESULT:
        raise jinja2.exceptions.SecurityError("result of 'join' too large for a template")


def check_replace(text: Any, old: Any, new: Any) -> None:
    """Each occurrence of `old` grows the text by the difference; "" occurs everywhere."""
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    count = text.count(old) if old else len(text) + 1
    if len(text) + count * (len(new) - len(old)) > MAX_RESULT:
        raise jinja2.exceptions.SecurityError("result of 'replace' too large for a template")


def check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "**" and isinstance(right, int) and abs(right) > 64:
        raise jinja2.exceptions.SecurityError("exponent too large for a template")
    if operator == "*" and isinstance(left, int | float) and isinstance(right, str | list):
        left, right = right, left
    if operator == "*" and isinstance(left, str | list | tuple) and isinstance(right, int):
        limit = MAX_RESULT if isinstance(left, str) else MAX_ITEMS
        if len(left) * right > limit:
            raise jinja2.exceptions.SecurityError("result of '*' too large for a template")
        if not isinstance(left, str) and \
                text_weight(left, MAX_RESULT, MAX_ITEMS)[0] * right > MAX_RESULT:
            raise jinja2.exceptions.SecurityError("result of '*' too large for a template")
    if operator == "%" and isinstance(left, str):
        check_format(left, right)
    if operator == "+" and isinstance(left, str | list | tuple) and \
            isinstance(right, str | list | tuple):
        limit = MAX_RESULT if isinstance(left, str) else MAX_ITEMS
        if len(left) + len(right) > limit:
            raise jinja2.exceptions.SecurityError("result of '+' too large for a template")
