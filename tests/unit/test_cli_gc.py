"""composer.cli.main stops the cyclic collector for a command and gives it back as it was.

A caller running commands in-process (these tests, a tool embedding composer) keeps
its own setting, whether the collector was on or off.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from composer.cli import main


@pytest.fixture
def collector() -> Iterator[None]:
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_put_back_as_it_was(collector: None, enabled: bool,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (gc.enable if enabled else gc.disable)()
    assert main(["--version"]) == 0
    assert "compose" in capsys.readouterr().out
    assert gc.isenabled() is enabled


def test_the_collector_is_off_while_a_command_runs(collector: None, monkeypatch:
                                                   pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    import composer.cli as cli

    def version_and_look(argv: object) -> int:
        seen.append(gc.isenabled())
        return 0

    monkeypatch.setattr(cli, "_main", version_and_look)
    gc.enable()
    assert main(["--version"]) == 0
    assert seen == [False] and gc.isenabled()
