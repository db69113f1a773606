"""The operator's side of pxeboot: the boot: prompt, the text menu, passwords, ONERROR,
LOCALBOOT, failures that prompt again. Each dry run takes the operator's answers with
--answer (one per prompt; when they run out nobody is typing and every prompt times out)
and prints on stderr what the console would show.

Expected results come from syslinux: doc/syslinux.txt and doc/menu.txt, and where they
are silent its com32/elflink/ldlinux (load_kernel, enter_cmdline, edit_cmdline, record)
and com32/menu (the default entry, ask_passwd, passwd_compare). The line editor itself is
run on a real pseudo-terminal at the end, with real timeouts.
"""

from __future__ import annotations

import base64
import hashlib
import os
import pty
import select
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bootscripts import BUSYBOX, rendered

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "pxelinux.yaml"
FACTS = {"siaddr": "192.168.2.3", "bootfile": "boot/pxelinux.0", "mac": "88:99:AA:BB:CC:DD",
         "ip": "192.168.2.91", "subnet": "255.255.255.0", "router": "192.168.2.1"}
BOOTIF = "BOOTIF=01-88-99-aa-bb-cc-dd"

pytestmark = pytest.mark.skipif(not Path(BUSYBOX).exists(), reason="busybox is not installed")


@dataclass
class Boot:
    returncode: int
    stdout: str
    console: str  # stderr: what the operator sees

    def value(self, key: str) -> str:
        values = [line.split("=", 1)[1] for line in self.stdout.splitlines()
                  if line.startswith(key + "=")]
        assert len(values) == 1, (key, self.stdout, self.console)
        return values[0]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's /sbin/pxeboot and /lib/pxeboot as `compose render` writes them, and a
    bin/ with busybox's mkpasswd (an applet of the image; the host has no such command)."""
    dest = rendered(tmp_path_factory.mktemp("rendered"), RECIPE)
    (dest / "bin").mkdir(exist_ok=True)
    (dest / "bin" / "mkpasswd").symlink_to(BUSYBOX)
    return dest


def dry_run(root: Path, tftp: Path, config: str, *answers: str,
            env: dict[str, str] | None = None) -> Boot:
    files = {"pxelinux.cfg/default": config, "vmlinuz": "k", "vmlinuz-a": "a",
             "vmlinuz-b": "b", "rescue": "r", "initrd.img": "i"}
    for name, text in files.items():
        (tftp / "boot" / name).parent.mkdir(parents=True, exist_ok=True)
        (tftp / "boot" / name).write_text(text)
    args = [arg for answer in answers for arg in ("--answer", answer)]
    environment = {"PATH": f"{root / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                   "PXE_VERBOSITY": "1", "PXE_KERNEL_CHECK": "0", **FACTS, **(env or {})}
    done = subprocess.run([BUSYBOX, "sh", str(root / "sbin" / "pxeboot"), "--dry-run",
                           "--tftp-root", str(tftp), *args], env=environment,
                          capture_output=True, text=True, timeout=60, check=False)
    return Boot(done.returncode, done.stdout, done.stderr)


def booted(boot: Boot) -> tuple[str, str]:
    """The label and the kernel's command line after syslinux 6's BOOT_IMAGE=KERNEL."""
    assert boot.returncode == 0, boot.console
    line = boot.value("append")
    assert line.startswith("BOOT_IMAGE="), line
    return boot.value("label"), line.split(" ", 1)[1] if " " in line else ""


TWO = """\
LABEL one
  KERNEL vmlinuz-a
  APPEND one=1
LABEL two
  KERNEL vmlinuz-b
  INITRD initrd.img
  APPEND two=2
  IPAPPEND 2
"""


# --- the boot: prompt ------------------------------------------------------------------

def test_typed_words_follow_the_label_append_and_sysappend(root: Path, tmp_path: Path) -> None:
    """load_kernel(): the label's command line (KERNEL, APPEND, initrd=, SYSAPPEND
    strings), then a space and the typed words."""
    boot = dry_run(root, tmp_path, "PROMPT 1\nDEFAULT one\n" + TWO, "two extra=1 quiet")
    assert booted(boot) == ("two", f"two=2 initrd=initrd.img {BOOTIF} extra=1 quiet")
    assert "boot: two extra=1 quiet" in boot.console
    assert boot.value("initrd") == "boot/initrd.img"


@pytest.mark.parametrize("prompt", ["PROMPT 1\n", ""])
def test_default_is_a_whole_command_line(root: Path, tmp_path: Path, prompt: str) -> None:
    """DEFAULT boots as if typed: its words follow the label's APPEND, at Enter or when
    nobody is asked at all."""
    answers = [""] if prompt else []
    boot = dry_run(root, tmp_path, prompt + "DEFAULT two from=default\n" + TWO, *answers)
    assert booted(boot) == ("two", f"two=2 initrd=initrd.img {BOOTIF} from=default")
    assert ("\nboot: " in boot.console) == bool(prompt)


def test_enter_boots_default_and_the_timeout_ontimeout(root: Path, tmp_path: Path) -> None:
    config = "PROMPT 1\nTIMEOUT 50\nDEFAULT one enter=1\nONTIMEOUT two timeout=1\n" + TWO
    assert booted(dry_run(root, tmp_path, config, "")) == ("one", "one=1 enter=1")
    timed_out = dry_run(root, tmp_path, config)
    assert booted(timed_out) == ("two", f"two=2 initrd=initrd.img {BOOTIF} timeout=1")
    assert "ONTIMEOUT (timeout at boot:)" in timed_out.console


def test_a_typo_fails_then_the_prompt_comes_back(root: Path, tmp_path: Path) -> None:
    """IMPLICIT 1 (the default): a word that is no label is a kernel file; it is not
    there, the reason is shown, and boot: asks again."""
    boot = dry_run(root, tmp_path, "PROMPT 1\nDEFAULT one\n" + TWO, "tow", "two")
    assert booted(boot) == ("two", f"two=2 initrd=initrd.img {BOOTIF}")
    typo, error, again = (boot.console.index("boot: tow"),
                          boot.console.index("kernel 'boot/tow' not found"),
                          boot.console.index("boot: two"))
    assert typo < error < again


def test_a_word_that_is_no_label_boots_that_kernel(root: Path, tmp_path: Path) -> None:
    boot = dry_run(root, tmp_path, "PROMPT 1\nAPPEND global=1\nDEFAULT one\n" + TWO,
                   "vmlinuz x=1")
    assert boot.value("kernel") == "boot/vmlinuz"
    assert booted(boot) == ("", "global=1 x=1")


def test_implicit_0_boots_labels_only(root: Path, tmp_path: Path) -> None:
    boot = dry_run(root, tmp_path, "PROMPT 1\nIMPLICIT 0\nDEFAULT one\n" + TWO,
                   "vmlinuz", "one")
    assert booted(boot) == ("one", "one=1")
    assert "'vmlinuz' is no label, and IMPLICIT 0 boots labels only" in boot.console


def test_allowoptions_0_refuses_typed_words_not_default_words(root: Path,
                                                            tmp_path: Path) -> None:
    config = "PROMPT 1\nALLOWOPTIONS 0\nDEFAULT one from=default\n" + TWO
    boot = dry_run(root, tmp_path, config, "two init=/bin/sh", "two")
    assert booted(boot) == ("two", f"two=2 initrd=initrd.img {BOOTIF}")
    assert "Options after 'two' are not allowed here (ALLOWOPTIONS 0)" in boot.console
    assert booted(dry_run(root, tmp_path, config, "")) == ("one", "one=1 from=default")


def test_question_mark_lists_the_labels(root: Path, tmp_path: Path) -> None:
    boot = dry_run(root, tmp_path, "PROMPT 1\nDEFAULT one\n" + TWO, "?", "one")
    assert "boot: ?\n one two\nboot: one" in boot.console


def test_no_default_but_several_labels_asks(root: Path, tmp_path: Path) -> None:
    """ldlinux_auto_boot(): without DEFAULT it says so and shows boot:; Enter there has
    nothing to boot and asks again."""
    boot = dry_run(root, tmp_path, TWO, "", "two")
    assert boot.console.count("No DEFAULT or UI configuration directive found!") == 2
    assert booted(boot) == ("two", f"two=2 initrd=initrd.img {BOOTIF}")


def test_one_label_without_default_still_asks(root: Path, tmp_path: Path) -> None:
    """syslinux 6 boots nothing without DEFAULT or UI, a single LABEL included: boot:
    asks, and nobody answering is a failure, not a guess."""
    boot = dry_run(root, tmp_path, "LABEL only\n  KERNEL vmlinuz\n")
    assert boot.returncode == 1
    assert "\nboot: " in boot.console
    assert "has no DEFAULT or UI, and nobody chose at boot:" in boot.console
    assert booted(dry_run(root, tmp_path, "LABEL only\n  KERNEL vmlinuz\n", "only")) == \
        ("only", "")


# --- failures: ONERROR, the prompt again, giving up ------------------------------------

def test_onerror_runs_with_the_failed_command_line_appended(root: Path,
                                                           tmp_path: Path) -> None:
    """doc/syslinux.txt: ONERROR xyzzy plugh + the line 'foo bar baz' runs
    'xyzzy plugh foo bar baz'."""
    config = ("DEFAULT broken x=1\nONERROR rescue why=\nLABEL broken\n  KERNEL missing\n"
              "LABEL rescue\n  KERNEL rescue\n  APPEND single\n")
    boot = dry_run(root, tmp_path, config)
    assert booted(boot) == ("rescue", "single why= broken x=1")
    assert "kernel 'boot/missing' not found" in boot.console


def test_a_failed_default_prompts_and_an_operator_can_save_the_boot(root: Path,
                                                                    tmp_path: Path) -> None:
    config = "DEFAULT broken\nLABEL broken\n  KERNEL missing\n" + TWO
    boot = dry_run(root, tmp_path, config, "one")
    assert booted(boot) == ("one", "one=1")
    assert boot.console.index("not found") < boot.console.index("boot: one")


def test_nobody_at_the_console_gives_up_instead_of_looping(root: Path,
                                                          tmp_path: Path) -> None:
    config = "DEFAULT broken\nONERROR gone\nLABEL broken\n  KERNEL missing\n"
    boot = dry_run(root, tmp_path, config)
    assert boot.returncode == 1 and boot.stdout == ""
    assert boot.console.count("not found") == 2  # DEFAULT, then ONERROR, once each
    assert "nothing else to try: 'broken' (from DEFAULT, timeout at boot:)" in boot.console


def test_config_label_typed_at_the_prompt_asks_in_the_new_configuration(
        root: Path, tmp_path: Path) -> None:
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot" / "more.cfg").write_text("PROMPT 1\nDEFAULT a\nLABEL a\n  KERNEL vmlinuz-a\n"
                                                "LABEL b\n  KERNEL vmlinuz-b\n")
    boot = dry_run(root, tmp_path, "PROMPT 1\nDEFAULT one\nLABEL more\n  CONFIG more.cfg\n" + TWO,
                   "more", "b")
    assert boot.value("config") == "boot/more.cfg"
    assert boot.value("kernel") == "boot/vmlinuz-b"


# --- the menu --------------------------------------------------------------------------

MENU = """\
UI menu.c32
MENU TITLE Network boot
TIMEOUT 50
LABEL one
  MENU LABEL ^Debian 12
  KERNEL vmlinuz-a
  APPEND one=1
  TEXT HELP
    The stable release.
  ENDTEXT
MENU SEPARATOR
LABEL -
  MENU LABEL Tools:
  MENU DISABLE
LABEL two
  MENU LABEL ^Rescue shell
  MENU INDENT 2
  KERNEL vmlinuz-b
  APPEND two=2
LABEL hidden
  MENU HIDE
  KERNEL rescue
  APPEND hidden=1
"""
MENU_SHOWN = """
  Network boot

   1) [D]ebian 12
        The stable release.

      Tools:
   2)   [R]escue shell

Type a number or a label, or Enter for 1. Words after it go on its command line.
Automatic boot in 5 seconds...
boot: """


def test_the_menu_as_a_line_mode_console_shows_it(root: Path, tmp_path: Path) -> None:
    boot = dry_run(root, tmp_path, MENU, "2")
    assert MENU_SHOWN + "2\n" in boot.console
    assert "hidden" not in boot.console.split("boot: ")[0]  # MENU HIDE: not listed
    assert booted(boot) == ("two", "two=2")


@pytest.mark.parametrize(("answer", "label", "append"), [
    ("1", "one", "one=1"),
    ("r", "two", "two=2"),            # the ^R hotkey, either case
    ("D", "one", "one=1"),
    ("two", "two", "two=2"),          # a label
    ("hidden", "hidden", "hidden=1"),  # a hidden one boots by its label
    ("2 extra=1", "two", "two=2 extra=1"),
    ("", "one", "one=1"),             # Enter: the default entry
])
def test_menu_choices(root: Path, tmp_path: Path, answer: str, label: str, append: str) -> None:
    assert booted(dry_run(root, tmp_path, MENU, answer)) == (label, append)


def test_a_menu_choice_that_is_nothing_asks_again(root: Path, tmp_path: Path) -> None:
    boot = dry_run(root, tmp_path, MENU, "9", "-", "1")
    assert "'9' is neither a number in the menu nor a label." in boot.console
    assert "'-' is neither" in boot.console  # a MENU DISABLE label cannot be chosen
    assert booted(boot) == ("one", "one=1")


@pytest.mark.parametrize(("head", "label"), [
    ("DEFAULT two\n", "two"),                  # DEFAULT names the default entry
    ("DEFAULT hidden\n", "one"),               # ... unless it is hidden: the first entry
    ("DEFAULT two words=ignored\n", "two"),    # the menu drops DEFAULT's words
    ("ONTIMEOUT hidden\n", "hidden"),
])
def test_menu_default_entry_and_timeout(root: Path, tmp_path: Path, head: str,
                                       label: str) -> None:
    boot = dry_run(root, tmp_path, head + MENU)
    assert boot.value("label") == label
    assert "words=ignored" not in boot.stdout


def test_menu_default_last_one_wins_and_default_label_overrides(root: Path,
                                                                tmp_path: Path) -> None:
    marked = MENU.replace("  APPEND one=1\n", "  APPEND one=1\n  MENU DEFAULT\n").replace(
        "  APPEND two=2\n", "  APPEND two=2\n  MENU DEFAULT\n")
    assert dry_run(root, tmp_path, marked, "").value("label") == "two"
    assert dry_run(root, tmp_path, "DEFAULT one\n" + marked, "").value("label") == "one"


def test_a_dot_c32_default_that_is_no_label_is_a_menu(root: Path, tmp_path: Path) -> None:
    boot = dry_run(root, tmp_path, "DEFAULT vesamenu.c32\n" + MENU.replace("UI menu.c32\n", ""),
                   "2")
    assert "   2)   [R]escue shell" in boot.console
    assert boot.value("label") == "two"


def test_menu_autoboot_message_and_allowoptions(root: Path, tmp_path: Path) -> None:
    config = MENU.replace("TIMEOUT 50", "TIMEOUT 10\nALLOWOPTIONS 0\n"
                                        "MENU AUTOBOOT Booting in # sec{ond,onds}.")
    boot = dry_run(root, tmp_path, config, "2 init=/bin/sh", "2")
    assert "Booting in 1 second.\n" in boot.console
    assert "Type a number or a label, or Enter for 1.\n" in boot.console
    assert "Options after '2' are not allowed here (ALLOWOPTIONS 0)." in boot.console
    assert booted(boot) == ("two", "two=2")


# --- MENU PASSWD -----------------------------------------------------------------------

def openssl_crypt(flag: str, salt: str, password: str) -> str:
    return subprocess.run(["openssl", "passwd", flag, "-salt", salt, password],
                          capture_output=True, text=True, check=True).stdout.strip()


def sha1pass(salt: str, password: str) -> str:
    """syslinux's utils/sha1pass: $4$SALT$base64(SHA-1(SALT PASSWORD)) unpadded, then $."""
    digest = hashlib.sha1((salt + password).encode()).digest()
    return f"$4${salt}${base64.b64encode(digest).decode().rstrip('=')}$"


@pytest.mark.parametrize("kind", ["plain", "md5", "sha1", "sha256", "sha512", "sha512-rounds"])
def test_menu_passwd_wrong_then_right(root: Path, tmp_path: Path, kind: str) -> None:
    if kind != "plain" and kind != "sha1" and shutil.which("openssl") is None:
        pytest.skip("openssl makes the reference hashes")
    stored = {
        "plain": lambda: "s3cret word",
        "md5": lambda: openssl_crypt("-1", "NaCl", "s3cret word"),
        "sha1": lambda: sha1pass("XhS5Qpe1", "s3cret word"),
        "sha256": lambda: openssl_crypt("-5", "saltsalt", "s3cret word"),
        "sha512": lambda: openssl_crypt("-6", "0123456789abcdef", "s3cret word"),
        "sha512-rounds": lambda: openssl_crypt("-6", "rounds=5000$abc", "s3cret word"),
    }[kind]()
    config = MENU.replace("  APPEND two=2\n", f"  APPEND two=2\n  MENU PASSWD {stored}\n")
    boot = dry_run(root, tmp_path, config, "2", "s3cret", "2", "s3cret word")
    assert boot.console.count("Password required: ") == 2
    assert "Password required: ******\nWrong password.\nboot: 2\n" in boot.console
    assert booted(boot) == ("two", "two=2")


def test_menu_passwd_by_label_hidden_or_not_and_the_timeout_does_not_ask(
        root: Path, tmp_path: Path) -> None:
    config = "ONTIMEOUT hidden\n" + MENU.replace("  APPEND hidden=1\n",
                                                "  APPEND hidden=1\n  MENU PASSWD pw\n")
    boot = dry_run(root, tmp_path, config, "hidden", "", "")
    assert "Wrong password." in boot.console  # an empty password never unlocks
    assert booted(boot) == ("one", "one=1")   # then Enter: the default entry
    timed_out = dry_run(root, tmp_path, config, "hidden", "wrong")
    assert booted(timed_out) == ("hidden", "hidden=1")  # ONTIMEOUT asks no password


def test_master_passwd_unlocks_every_entry_and_guards_typed_words(root: Path,
                                                                 tmp_path: Path) -> None:
    config = "MENU MASTER PASSWD master\n" + MENU.replace(
        "  APPEND two=2\n", "  APPEND two=2\n  MENU PASSWD\n")  # empty: only the master
    assert booted(dry_run(root, tmp_path, config, "2", "master")) == ("two", "two=2")
    refused = dry_run(root, tmp_path, config, "1 init=/bin/sh", "guess", "1")
    assert "Wrong password." in refused.console
    assert booted(refused) == ("one", "one=1")
    assert booted(dry_run(root, tmp_path, config, "1 x=1", "master")) == ("one", "one=1 x=1")


def test_password_of_an_unknown_algorithm_never_matches(root: Path, tmp_path: Path) -> None:
    config = MENU.replace("  APPEND two=2\n", "  APPEND two=2\n  MENU PASSWD $9$x$y\n")
    boot = dry_run(root, tmp_path, config, "2", "$9$x$y", "1")
    assert "Wrong password." in boot.console
    assert boot.value("label") == "one"


# --- LOCALBOOT -------------------------------------------------------------------------

def sysfs(tmp_path: Path, devices: dict[str, dict[str, str]]) -> Path:
    """A /sys with CCW devices: bus ID -> files under the device (e.g. virtio0/device)."""
    root = tmp_path / "sys"
    for reipl in ("reipl_type", "ccw/device", "ccw/clear"):
        (root / "firmware/reipl" / reipl).parent.mkdir(parents=True, exist_ok=True)
    for bus_id, files in devices.items():
        for name, text in files.items():
            path = root / "bus/ccw/devices" / bus_id / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + "\n")
    return root


QEMU_DEVICES = {  # seen in a QEMU 7.2 guest: the NIC and a virtio-blk-ccw disk, no driver
    "0.0.0000": {"cutype": "3832/01", "devtype": "n/a", "virtio0/device": "0x0001"},
    "0.0.0001": {"cutype": "3832/02", "devtype": "n/a", "virtio1/device": "0x0002"},
}
LOCAL = "PROMPT 1\nDEFAULT local\nLABEL local\n  LOCALBOOT 0\nLABEL back\n  LOCALBOOT -1\n"


def test_localboot_reipls_the_first_ccw_disk(root: Path, tmp_path: Path) -> None:
    env = {"PXE_SYSFS": str(sysfs(tmp_path, QEMU_DEVICES))}
    boot = dry_run(root, tmp_path, LOCAL, "", env=env)
    assert boot.returncode == 0, boot.console
    assert boot.stdout.splitlines()[-1] == "localboot=0.0.0001"


@pytest.mark.parametrize(("devices", "first"), [
    ({"0.0.0200": {"devtype": "3390/0c"}, "0.0.0100": {"devtype": "3390/0a"}}, "0.0.0100"),
    ({"0.0.0002": {"devtype": "n/a", "virtio2/block/vda/dev": "254:0"},
      "0.0.0003": {"devtype": "9336/10"}}, "0.0.0002"),          # a driver loaded: block/
    ({"0.0.0001": {"devtype": "3088/08"}, "0.0.0009": {"devtype": "9336/10"}}, "0.0.0009"),
])
def test_which_ccw_device_is_a_disk(root: Path, tmp_path: Path, devices: dict[str, dict[str, str]],
                                    first: str) -> None:
    env = {"PXE_SYSFS": str(sysfs(tmp_path, devices))}
    assert dry_run(root, tmp_path, LOCAL, "", env=env).stdout.splitlines()[-1] == (
        f"localboot={first}")


def test_localboot_device_variable_and_minus_one(root: Path, tmp_path: Path) -> None:
    devices = {**QEMU_DEVICES, "0.0.0004": {"devtype": "3390/0c"}}
    env = {"PXE_SYSFS": str(sysfs(tmp_path, devices)), "PXE_LOCALBOOT_DEVICE": "0.0.0004"}
    assert dry_run(root, tmp_path, LOCAL, "", env=env).stdout.splitlines()[-1] == (
        "localboot=0.0.0004")
    assert dry_run(root, tmp_path, LOCAL, "back", env=env).stdout.splitlines()[-1] == (
        "localboot=firmware")
    env["PXE_LOCALBOOT_DEVICE"] = "0.0.0042"
    missing = dry_run(root, tmp_path, LOCAL, "", "back", env=env)
    assert "LOCALBOOT: no CCW device 0.0.0042 (PXE_LOCALBOOT_DEVICE)" in missing.console
    assert missing.stdout.splitlines()[-1] == "localboot=firmware"


def test_no_disk_says_so_and_prompts_again(root: Path, tmp_path: Path) -> None:
    env = {"PXE_SYSFS": str(sysfs(tmp_path, {"0.0.0000": QEMU_DEVICES["0.0.0000"]}))}
    boot = dry_run(root, tmp_path, LOCAL + TWO, "", "one", env=env)
    assert "LOCALBOOT: no CCW block device (DASD or virtio disk)" in boot.console
    assert booted(boot) == ("one", "one=1")


# --- the line editor on a real terminal ------------------------------------------------

EDITOR = """
PXE_TAG=pxeboot PXE_VERBOSITY=1 DRY_RUN=0 CONSOLE_RETRY=0 C_TIMEOUT=0 C_TOTALTIMEOUT=0
. "$1/lib/pxeboot/common.sh"
. "$1/lib/pxeboot/prompt.sh"
label_count() { echo 2; }
label_get() { case $1 in 1) echo alpha ;; 2) echo beta ;; esac; }
console_read_line "boot: " "$2" "$3"
echo "rc=$? LINE=[$LINE]"
"""


def on_a_terminal(root: Path, first: int, total: int,
                  keys: list[tuple[float, bytes]]) -> tuple[float, str]:
    """(seconds, what the terminal showed) for console_read_line FIRST TOTAL (1/10 s)
    on a pseudo-terminal, KEYS typed after their delays."""
    master, slave = pty.openpty()
    start = time.monotonic()
    shell = subprocess.Popen([BUSYBOX, "sh", "-c", EDITOR, "sh", str(root), str(first),
                              str(total)], stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    for delay, text in keys:
        time.sleep(delay)
        os.write(master, text)
    shown = b""
    while select.select([master], [], [], 10)[0]:
        try:
            data = os.read(master, 4096)
        except OSError:  # the terminal closed with the shell
            break
        if not data:
            break
        shown += data
    shell.wait(timeout=10)
    os.close(master)
    return time.monotonic() - start, shown.decode().replace("\r\n", "\n")


def test_timeout_fires_when_nobody_types(root: Path) -> None:
    seconds, shown = on_a_terminal(root, 5, 0, [])
    assert shown.endswith("boot: \nrc=1 LINE=[]\n")
    assert 0.4 < seconds < 3


def test_the_first_key_cancels_timeout_and_editing_works(root: Path) -> None:
    """TIMEOUT 5 (0.5 s) is cancelled by 'a'; the line is finished 1 s later. DEL erases
    (echoed as backspace-space-backspace), ^U kills the line, Tab lists labels."""
    seconds, shown = on_a_terminal(root, 5, 0, [(0.1, b"al"), (1.0, b"\x7f\x15b\t"),
                                                (0.1, b"eta x\r")])
    assert seconds > 1.0
    assert shown.endswith("rc=0 LINE=[beta x]\n")
    assert "\n beta\nboot: b" in shown  # Tab: the labels starting with 'b', then the line


def test_totaltimeout_is_not_cancelled_by_typing(root: Path) -> None:
    seconds, shown = on_a_terminal(root, 5, 15, [(0.1, b"a"), (0.6, b"l")])
    assert shown.endswith("rc=1 LINE=[al]\n")
    assert 1.3 < seconds < 4
