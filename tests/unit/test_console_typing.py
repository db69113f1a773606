"""compose boot --type/--disk/--reboot without QEMU: when answers are typed, what QEMU is
told. The real typing is proven by the QEMU boots of tests/test_console_boot.py."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from composer.cli import main
from composer.errors import InputError
from composer.qemu.command import qemu_command
from composer.qemu.console import Answer, Typist, parse_answer, type_keys


def test_answer_splits_at_the_first_equals_sign() -> None:
    assert parse_answer("boot: =two extra=1") == Answer("boot: ", "two extra=1")
    assert parse_answer("boot: =") == Answer("boot: ", "")


@pytest.mark.parametrize("spec", ["no-equals", "=text", "boot: =a\nb"])
def test_malformed_answers_are_input_errors(spec: str) -> None:
    with pytest.raises(InputError, match="--type"):
        parse_answer(spec)


def test_each_answer_waits_for_its_prompt_after_the_previous_one() -> None:
    typist = Typist([Answer("boot: ", "tow"), Answer("boot: ", "two x=1")])
    console = "firmware...\n"
    assert typist.due(console) == []
    console += "pxeboot: menu\nboot: "
    assert typist.due(console) == ["tow\r"]
    assert typist.due(console) == []  # the same prompt is not answered twice
    console += "tow\npxeboot: no label 'tow'\nboot"
    assert typist.due(console) == []
    console += ": "
    assert typist.due(console) == ["two x=1\r"]
    assert typist.waiting_for is None and typist.typed == 2


def test_prompts_already_on_the_console_are_answered_at_once() -> None:
    typist = Typist([Answer("Password: ", "wrong"), Answer("boot: ", "")])
    assert typist.due("Password: xx\nboot: ") == ["wrong\r", "\r"]


def test_a_qemu_that_went_away_misses_the_keys() -> None:
    class Gone(io.BytesIO):
        def write(self, data: object) -> int:
            raise BrokenPipeError

    type_keys(Gone(), ["x\r"])  # no exception
    sink = io.BytesIO()
    type_keys(sink, ["a\r", "\r"])
    assert sink.getvalue() == b"a\r\r"


def test_disks_are_virtio_blk_ccw_and_reboot_drops_no_reboot(tmp_path: Path) -> None:
    command = qemu_command("qemu-system-s390x", tmp_path, "pxelinux.0",
                           disks=[tmp_path / "a,b.img", tmp_path / "c.img"], reboot=True)
    assert "-no-reboot" not in command
    drives = [command[i + 1] for i, word in enumerate(command) if word == "-drive"]
    assert drives == [f"file={tmp_path}/a,,b.img,if=none,id=disk0,format=raw",
                      f"file={tmp_path}/c.img,if=none,id=disk1,format=raw"]
    devices = [command[i + 1] for i, word in enumerate(command) if word == "-device"]
    assert devices[1:] == ["virtio-blk-ccw,drive=disk0", "virtio-blk-ccw,drive=disk1"]
    assert "-no-reboot" in qemu_command("qemu-system-s390x", tmp_path, "pxelinux.0")


@pytest.mark.parametrize(("args", "message"), [
    (["--type", "nothing-to-wait-for"], "is not of the form 'WAIT=TEXT'"),
    (["--disk", "/nonexistent.img"], "--disk /nonexistent.img is not a file"),
])
def test_bad_boot_options_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 args: list[str], message: str) -> None:
    image = tmp_path / "pxelinux.0"
    with image.open("wb") as f:
        f.write(bytes(8) + bytes.fromhex("02000018600000500200006860000050"))
        f.truncate(0x10480)
    assert main(["boot", str(image), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_prompt_is_text_that_starts_a_line() -> None:
    typist = Typist([Answer("boot: ", "x"), Answer("pxelinux login: ", "root")])
    assert typist.due("pxeboot: loading\npxeboot: ") == []  # part of a message line
    assert typist.due("pxeboot: x\nboot: \n[ 9.1] random: crng init done\n") == ["x\r"]
    assert typist.due("pxeboot: x\nboot: \n...\npxelinux login: ") == ["root\r"]
