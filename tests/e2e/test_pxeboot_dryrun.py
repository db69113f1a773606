"""The PXELINUX rules of the boot script (bootscripts/pxeboot.sh and bootscripts/pxeboot/),
run under the host's busybox sh.

The boot script is rendered by `compose render` (with its library and settings) and run
as `busybox sh ROOT/sbin/pxeboot --dry-run --tftp-root DIR` with the DHCP facts in the
environment under udhcpc's names: the same shell code that runs in the guest, in the
guest's shell dialect, minus TFTP and kexec.
Expected results come from syslinux's documentation (doc/pxelinux.txt, txt/pxelinux.txt,
txt/syslinux.cfg.txt) and, where it is silent, from its ldlinux readconfig.c behaviour.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bootscripts import BUSYBOX, rendered, serve

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "pxelinux.yaml"

pytestmark = pytest.mark.skipif(not Path(BUSYBOX).exists(), reason="busybox is not installed")

# The example of syslinux's pxelinux documentation.
DOC_FACTS = {
    "siaddr": "192.168.2.3",
    "bootfile": "mybootdir/pxelinux.0",
    "uuid": "b8945908-d6a6-41a9-611d-74a6ab80b83d",
    "mac": "88:99:AA:BB:CC:DD",
    "ip": "192.168.2.91",
    "subnet": "255.255.255.0",
    "router": "192.168.2.1",
}
DOC_ORDER = [
    "mybootdir/pxelinux.cfg/b8945908-d6a6-41a9-611d-74a6ab80b83d",
    "mybootdir/pxelinux.cfg/01-88-99-aa-bb-cc-dd",
    "mybootdir/pxelinux.cfg/C0A8025B",
    "mybootdir/pxelinux.cfg/C0A8025",
    "mybootdir/pxelinux.cfg/C0A802",
    "mybootdir/pxelinux.cfg/C0A80",
    "mybootdir/pxelinux.cfg/C0A8",
    "mybootdir/pxelinux.cfg/C0A",
    "mybootdir/pxelinux.cfg/C0",
    "mybootdir/pxelinux.cfg/C",
    "mybootdir/pxelinux.cfg/default",
]


@dataclass
class Boot:
    returncode: int
    stdout: str
    stderr: str

    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def value(self, key: str) -> str:
        values = [line.split("=", 1)[1] for line in self.lines() if line.startswith(key + "=")]
        assert len(values) == 1, (key, self.stdout, self.stderr)
        return values[0]

    @property
    def initrds(self) -> list[str]:
        return [line[len("initrd="):] for line in self.lines() if line.startswith("initrd=")]

    @property
    def args(self) -> str:
        """The kernel's command line after the BOOT_IMAGE=NAME that syslinux 6 puts first
        (kernel.c: "BOOT_IMAGE=%s %s", the KERNEL name as written)."""
        line = self.value("append")
        assert line.startswith("BOOT_IMAGE="), line
        return line.split(" ", 1)[1] if " " in line else ""


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/sbin/pxeboot as `compose render recipes/pxelinux.yaml` writes it for the host."""
    return rendered(tmp_path_factory.mktemp("rendered"), RECIPE) / "sbin" / "pxeboot"


@pytest.fixture
def tftp(tmp_path: Path) -> Path:
    root = tmp_path / "tftp"
    root.mkdir()
    return root



def run(script: Path, root: Path, facts: dict[str, str], *extra: str,
        cwd: Path | None = None, timeout: float = 30) -> Boot:
    # The kernels served here are stand-ins (their names are what is checked).
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PXE_VERBOSITY": "1",
           "PXE_KERNEL_CHECK": "0", **facts}
    result = subprocess.run([BUSYBOX, "sh", str(script), "--dry-run", "--tftp-root", str(root),
                             *extra], env=env, capture_output=True, text=True,
                            timeout=timeout, check=False, cwd=cwd)
    return Boot(result.returncode, result.stdout, result.stderr)


def boot(script: Path, root: Path, config: str, facts: dict[str, str] | None = None,
         extra_files: dict[str, str | bytes] | None = None) -> Boot:
    """Serves CONFIG as mybootdir/pxelinux.cfg/default plus kernels, and boots it."""
    files: dict[str, str | bytes] = {"mybootdir/pxelinux.cfg/default": config}
    for name in ("vmlinuz", "vmlinuz-a", "vmlinuz-b", "linux", "other", "a.img", "b.img",
                 "c.img"):
        files[f"mybootdir/{name}"] = name
    files.update(extra_files or {})
    serve(root, files)
    result = run(script, root, facts if facts is not None else DOC_FACTS)
    assert result.returncode == 0, result.stderr
    return result


# --- configuration lookup -----------------------------------------------------------------


@pytest.mark.parametrize("first", range(len(DOC_ORDER)), ids=lambda i: DOC_ORDER[i][26:])
def test_lookup_order_of_the_syslinux_documentation(script: Path, tftp: Path, first: int) -> None:
    """Files from FIRST on exist: the script must take FIRST, proving every earlier miss."""
    serve(tftp, {"mybootdir/vmlinuz": "k"})
    for name in DOC_ORDER[first:]:
        serve(tftp, {name: f"DEFAULT x\nLABEL x\nKERNEL vmlinuz\nAPPEND from={name}\n"})
    result = run(script, tftp, DOC_FACTS)
    assert result.returncode == 0, result.stderr
    assert result.value("config") == DOC_ORDER[first]
    assert result.args == f"from={DOC_ORDER[first]}"


def test_hex_ip_of_the_older_documentation(script: Path, tftp: Path) -> None:
    facts = {**DOC_FACTS, "ip": "192.0.2.91", "uuid": "", "mac": ""}
    result = boot(script, tftp, "", facts, {"pxelinux.cfg/C000025B": "x",
                                            "mybootdir/pxelinux.cfg/C000025B": "DEFAULT vmlinuz"})
    assert result.value("config") == "mybootdir/pxelinux.cfg/C000025B"


def test_hex_ip_found_by_shortening_to_four_digits(script: Path, tftp: Path) -> None:
    facts = {"siaddr": "10.0.2.2", "boot_file": "pxelinux.0", "ip": "10.0.2.15",
             "mac": "52:54:00:12:34:56"}
    serve(tftp, {"pxelinux.cfg/0A00": "DEFAULT vmlinuz", "pxelinux.cfg/default": "DEFAULT no",
                 "vmlinuz": "k"})
    result = run(script, tftp, facts)
    assert result.returncode == 0, result.stderr
    assert result.value("config") == "pxelinux.cfg/0A00"
    assert result.value("kernel") == "vmlinuz"


def test_uuid_and_mac_are_looked_up_in_lower_case(script: Path, tftp: Path) -> None:
    facts = {**DOC_FACTS, "uuid": DOC_FACTS["uuid"].upper()}
    result = boot(script, tftp, "DEFAULT linux", facts,
                  {DOC_ORDER[0]: "DEFAULT vmlinuz", DOC_ORDER[0].upper(): "DEFAULT other"})
    assert result.value("config") == DOC_ORDER[0]


def test_option_209_comes_first_and_is_relative_to_the_prefix(script: Path, tftp: Path) -> None:
    facts = {**DOC_FACTS, "pxeconffile": "configs/special.cfg"}
    result = boot(script, tftp, "DEFAULT linux", facts,
                  {"mybootdir/configs/special.cfg": "DEFAULT vmlinuz-a", DOC_ORDER[0]: "x"})
    assert result.value("config") == "mybootdir/configs/special.cfg"
    assert result.value("kernel") == "mybootdir/vmlinuz-a"


def test_missing_option_209_file_falls_back_to_the_search(script: Path, tftp: Path) -> None:
    facts = {**DOC_FACTS, "pxeconffile": "configs/missing.cfg"}
    result = boot(script, tftp, "DEFAULT linux", facts)
    assert result.value("config") == "mybootdir/pxelinux.cfg/default"


def test_option_210_replaces_the_boot_file_directory(script: Path, tftp: Path) -> None:
    facts = {**DOC_FACTS, "pxepathprefix": "s390x/", "uuid": "", "mac": ""}
    serve(tftp, {"s390x/pxelinux.cfg/default": "DEFAULT vmlinuz\n", "s390x/vmlinuz": "k"})
    result = run(script, tftp, facts)
    assert result.returncode == 0, result.stderr
    assert result.value("config") == "s390x/pxelinux.cfg/default"
    assert result.value("kernel") == "s390x/vmlinuz"


def test_option_210_is_a_plain_prefix(script: Path, tftp: Path) -> None:
    """syslinux concatenates the prefix: without a trailing slash it is a name prefix."""
    facts = {**DOC_FACTS, "pxepathprefix": "s390x-", "uuid": "", "mac": ""}
    serve(tftp, {"s390x-pxelinux.cfg/default": "DEFAULT vmlinuz", "s390x-vmlinuz": "k"})
    result = run(script, tftp, facts)
    assert result.returncode == 0, result.stderr
    assert result.value("kernel") == "s390x-vmlinuz"


def test_bootp_file_field_when_there_is_no_option_67(script: Path, tftp: Path) -> None:
    facts = {k: v for k, v in DOC_FACTS.items() if k != "bootfile"}
    result = boot(script, tftp, "DEFAULT vmlinuz", {**facts, "boot_file": "mybootdir/pxelinux.0"})
    assert result.value("config") == "mybootdir/pxelinux.cfg/default"


@pytest.mark.parametrize(("facts", "server"), [
    ({"tftp": "10.1.1.1", "siaddr": "10.2.2.2", "serverid": "10.3.3.3"}, "10.1.1.1"),
    ({"siaddr": "10.2.2.2", "serverid": "10.3.3.3"}, "10.2.2.2"),
    ({"serverid": "10.3.3.3"}, "10.3.3.3"),
], ids=["option-66", "siaddr", "serverid"])
def test_tftp_server_choice(script: Path, tftp: Path, facts: dict[str, str], server: str) -> None:
    """IPAPPEND 1 shows the server pxeboot chose: ip=client:server:gateway:netmask."""
    base = {k: v for k, v in DOC_FACTS.items() if k != "siaddr"}
    result = boot(script, tftp, "DEFAULT vmlinuz\nIPAPPEND 1\n", {**base, **facts})
    assert result.args == f"ip=192.168.2.91:{server}:192.168.2.1:255.255.255.0"


def test_no_tftp_server_is_an_error(script: Path, tftp: Path) -> None:
    facts = {k: v for k, v in DOC_FACTS.items() if k != "siaddr"}
    serve(tftp, {"mybootdir/pxelinux.cfg/default": "DEFAULT vmlinuz"})
    result = run(script, tftp, facts)
    assert result.returncode == 1
    assert "no TFTP server" in result.stderr
    assert result.stdout == ""


def test_no_configuration_at_all(script: Path, tftp: Path) -> None:
    result = run(script, tftp, DOC_FACTS)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no configuration file on TFTP server 192.168.2.3" in result.stderr
    for name in DOC_ORDER:
        assert name in result.stderr


# --- DEFAULT, LABEL, KERNEL ---------------------------------------------------------------

SEVERAL = """\
LABEL first
  KERNEL vmlinuz-a
  APPEND first
LABEL second
  KERNEL vmlinuz-b
  APPEND second
DEFAULT second
"""


def test_default_names_a_label_that_is_not_the_first(script: Path, tftp: Path) -> None:
    result = boot(script, tftp, SEVERAL)
    assert result.lines() == ["config=mybootdir/pxelinux.cfg/default", "label=second",
                              "kernel=mybootdir/vmlinuz-b", "append=BOOT_IMAGE=vmlinuz-b second"]


def test_keywords_are_case_insensitive_labels_are_not(script: Path, tftp: Path) -> None:
    config = "dEfAuLt Linux\nlabel linux\n  kernel vmlinuz-a\nLaBeL Linux\n  LiNuX vmlinuz-b\n"
    result = boot(script, tftp, config)
    assert result.value("label") == "Linux"
    assert result.value("kernel") == "mybootdir/vmlinuz-b"


def test_first_of_duplicate_labels_wins(script: Path, tftp: Path) -> None:
    result = boot(script, tftp, "DEFAULT x\nLABEL x\nKERNEL vmlinuz-a\nLABEL x\nKERNEL vmlinuz-b\n")
    assert result.value("kernel") == "mybootdir/vmlinuz-a"


def test_label_without_kernel_boots_the_label_name(script: Path, tftp: Path) -> None:
    result = boot(script, tftp, "DEFAULT linux\nLABEL linux\n  APPEND quiet\n")
    assert result.value("kernel") == "mybootdir/linux"
    assert result.args == "quiet"


def test_kernel_line_arguments_come_first(script: Path, tftp: Path) -> None:
    result = boot(script, tftp, "DEFAULT l\nLABEL l\nKERNEL vmlinuz a=1 b=2\nAPPEND c=3\n")
    assert result.value("kernel") == "mybootdir/vmlinuz"
    assert result.args == "a=1 b=2 c=3"


def test_default_label_with_extra_arguments(script: Path, tftp: Path) -> None:
    result = boot(script, tftp, "DEFAULT second extra=1 single\n" + SEVERAL.replace(
        "DEFAULT second\n", ""))
    assert result.value("label") == "second"
    assert result.args == "second extra=1 single"


def test_default_naming_a_kernel_directly(script: Path, tftp: Path) -> None:
    """No such label: syslinux boots the name as a kernel, after the global APPEND."""
    config = "APPEND console=ttyS0\nDEFAULT other root=/dev/ram0\nLABEL x\nKERNEL vmlinuz\n"
    result = boot(script, tftp, config)
    assert result.lines() == ["config=mybootdir/pxelinux.cfg/default", "label=",
                              "kernel=mybootdir/other",
                              "append=BOOT_IMAGE=other console=ttyS0 root=/dev/ram0"]


def test_without_default_nothing_boots_unattended(script: Path, tftp: Path) -> None:
    """syslinux 6 (ldlinux.c, ldlinux_auto_boot): without DEFAULT or UI it says so and
    waits at boot:, even for a single LABEL; nobody answering is a failure here."""
    for config in (SEVERAL.replace("DEFAULT second\n", ""), "LABEL only\n  KERNEL vmlinuz\n"):
        serve(tftp, {"mybootdir/pxelinux.cfg/default": config, "mybootdir/vmlinuz": "k"})
        result = run(script, tftp, DOC_FACTS)
        assert result.returncode == 1, result.stdout
        assert result.stdout == ""
        assert "No DEFAULT or UI configuration directive found!" in result.stderr
        assert "has no DEFAULT or UI, and nobody chose at boot:" in result.stderr


def test_without_default_the_label_typed_at_boot_boots(script: Path, tftp: Path) -> None:
    serve(tftp, {"mybootdir/pxelinux.cfg/default": SEVERAL.replace("DEFAULT second\n", ""),
                 "mybootdir/vmlinuz-a": "a"})
    result = run(script, tftp, DOC_FACTS, "--answer", "", "--answer", "first")
    assert result.returncode == 0, result.stderr
    assert result.value("label") == "first"
    # Enter alone names nothing: the message again, and boot: again.
    assert result.stderr.count("No DEFAULT or UI configuration directive found!") == 2


@pytest.mark.parametrize(("head", "label"), [
    ("DEFAULT first\nONTIMEOUT second\nPROMPT 0\n", "first"),
    ("DEFAULT first\nONTIMEOUT second\nPROMPT 1\nTIMEOUT 50\n", "second"),
    ("UI menu.c32\nDEFAULT first\nONTIMEOUT second\n", "second"),
    ("UI menu.c32\nDEFAULT second\n", "second"),
    ("DEFAULT vesamenu.c32\nTIMEOUT 30\n", "first"),
    ("DEFAULT vesamenu.c32\nONTIMEOUT second\n", "second"),
    ("ONTIMEOUT second\n", "second"),
], ids=["prompt0-default", "prompt1-ontimeout", "ui-ontimeout", "ui-default-label",
        "menu-module-first-label", "menu-module-ontimeout", "ontimeout-without-default"])
def test_what_an_unattended_boot_chooses(script: Path, tftp: Path, head: str, label: str) -> None:
    result = boot(script, tftp, head + SEVERAL.replace("DEFAULT second\n", ""))
    assert result.value("label") == label


def test_menu_default_marks_the_menu_entry(script: Path, tftp: Path) -> None:
    config = "UI menu.c32\nLABEL first\nKERNEL vmlinuz-a\nLABEL second\n  MENU DEFAULT\n" \
             "  KERNEL vmlinuz-b\n"
    result = boot(script, tftp, config)
    assert result.value("label") == "second"


def test_menu_say_timeout_and_friends_are_ignored(script: Path, tftp: Path) -> None:
    config = """\
UI vesamenu.c32
MENU TITLE Boot menu
MENU BACKGROUND splash.png
SAY Booting from the network
TIMEOUT 100
TOTALTIMEOUT 9000
PROMPT 0
F1 help.txt
SERIAL 0 115200
ALLOWOPTIONS 0
NOESCAPE 1
FROBNICATE whatever
DEFAULT linux
LABEL linux
  MENU LABEL ^Linux
  TEXT HELP
    KERNEL not-this
    APPEND nor-this
  ENDTEXT
  KERNEL vmlinuz
  APPEND quiet
"""
    result = boot(script, tftp, config)
    assert result.value("kernel") == "mybootdir/vmlinuz"
    assert result.args == "quiet"


def test_comments_blank_lines_indentation_and_crlf(script: Path, tftp: Path) -> None:
    config = "# a comment\r\n\r\n   \tDEFAULT  l\r\n#LABEL l\r\nLABEL l\r\n\t KERNEL\tvmlinuz\r\n" \
             "\tAPPEND  a=1   b=2 \r\n"
    result = boot(script, tftp, config)
    assert result.value("kernel") == "mybootdir/vmlinuz"
    assert result.args == "a=1   b=2"  # as written, the ends trimmed


@pytest.mark.parametrize("line", ["KERNEL menu.c32", "COM32 hdt.c32",
                                  "KERNEL pxelinux.0"])
def test_entries_that_cannot_boot_here_fail_clearly(script: Path, tftp: Path, line: str) -> None:
    serve(tftp, {"mybootdir/pxelinux.cfg/default": f"DEFAULT x\nLABEL x\n{line}\n"})
    result = run(script, tftp, DOC_FACTS)
    assert result.returncode == 1
    assert "label 'x'" in result.stderr and "only Linux kernels" in result.stderr


def test_config_directive_loads_another_configuration(script: Path, tftp: Path) -> None:
    result = boot(script, tftp, "DEFAULT more\nLABEL more\nCONFIG more.cfg\n",
                  extra_files={"mybootdir/more.cfg": "DEFAULT l\nLABEL l\nKERNEL vmlinuz-b\n"})
    assert result.value("config") == "mybootdir/more.cfg"
    assert result.value("kernel") == "mybootdir/vmlinuz-b"


# --- APPEND, INITRD, IPAPPEND -------------------------------------------------------------


def test_global_append_applies_to_labels_without_their_own(script: Path, tftp: Path) -> None:
    config = "APPEND console=ttyS0\nDEFAULT b\nLABEL a\nKERNEL vmlinuz-a\nAPPEND own\n" \
             "LABEL b\nKERNEL vmlinuz-b\n"
    assert boot(script, tftp, config).args == "console=ttyS0"


def test_append_dash_clears_the_global_append(script: Path, tftp: Path) -> None:
    config = "APPEND console=ttyS0\nDEFAULT l\nLABEL l\nKERNEL vmlinuz\nAPPEND -\n"
    assert boot(script, tftp, config).args == ""


def test_initrd_comma_list_in_order(script: Path, tftp: Path) -> None:
    """INITRD adds " initrd=LIST" to the command line (readconfig.c record()), and the
    kernel gets it: syslinux leaves it there."""
    result = boot(script, tftp, "DEFAULT l\nLABEL l\nKERNEL vmlinuz\nINITRD c.img,a.img,b.img\n")
    assert result.initrds == ["mybootdir/c.img", "mybootdir/a.img", "mybootdir/b.img"]
    assert result.value("append") == "BOOT_IMAGE=vmlinuz initrd=c.img,a.img,b.img"


def test_initrd_in_append_is_an_initrd_and_leaves_the_line(script: Path, tftp: Path) -> None:
    config = "DEFAULT l\nLABEL l\nKERNEL vmlinuz\nAPPEND ro initrd=a.img,b.img quiet\n"
    result = boot(script, tftp, config)
    assert result.initrds == ["mybootdir/a.img", "mybootdir/b.img"]
    assert result.args == "ro initrd=a.img,b.img quiet"


def test_the_first_initrd_counts(script: Path, tftp: Path) -> None:
    """INITRD appends " initrd=..." after APPEND; ldlinux's kernel.c loads what follows
    the first "initrd=" of the line (strstr), so APPEND's wins; both stay on the line."""
    config = "DEFAULT l\nLABEL l\nKERNEL vmlinuz\nAPPEND initrd=a.img x=1\nINITRD c.img\n"
    result = boot(script, tftp, config)
    assert result.initrds == ["mybootdir/a.img"]
    assert result.args == "initrd=a.img x=1 initrd=c.img"


def test_initrd_outside_a_label_is_ignored(script: Path, tftp: Path) -> None:
    result = boot(script, tftp, "INITRD a.img\nDEFAULT l\nLABEL l\nKERNEL vmlinuz\n")
    assert result.initrds == []


def test_initrds_are_concatenated_with_4k_padding(script: Path, tftp: Path,
                                                   tmp_path: Path) -> None:
    serve(tftp, {"mybootdir/pxelinux.cfg/default": "DEFAULT l\nLABEL l\nKERNEL vmlinuz\n"
                 "INITRD one.cpio,two.cpio\n", "mybootdir/vmlinuz": b"kernel",
                 "mybootdir/one.cpio": b"\x01" * 5000, "mybootdir/two.cpio": b"\x02" * 10})
    work = tmp_path / "work"
    result = run(script, tftp, DOC_FACTS, "--work-dir", str(work))
    assert result.returncode == 0, result.stderr
    assert (work / "kernel").read_bytes() == b"kernel"
    assert (work / "initrd").read_bytes() == b"\x01" * 5000 + bytes(3192) + b"\x02" * 10


@pytest.mark.parametrize(("bits", "expected"), [
    ("1", "ip=192.168.2.91:192.168.2.3:192.168.2.1:255.255.255.0"),
    ("2", "BOOTIF=01-88-99-aa-bb-cc-dd"),
    ("4", "SYSUUID=b8945908-d6a6-41a9-611d-74a6ab80b83d"),
    ("7", "ip=192.168.2.91:192.168.2.3:192.168.2.1:255.255.255.0 "
          "BOOTIF=01-88-99-aa-bb-cc-dd SYSUUID=b8945908-d6a6-41a9-611d-74a6ab80b83d"),
    ("0x6", "BOOTIF=01-88-99-aa-bb-cc-dd SYSUUID=b8945908-d6a6-41a9-611d-74a6ab80b83d"),
    ("0", ""),
])
@pytest.mark.parametrize("keyword", ["IPAPPEND", "sysappend"])
def test_ipappend_bits(script: Path, tftp: Path, keyword: str, bits: str, expected: str) -> None:
    config = f"DEFAULT l\nLABEL l\nKERNEL vmlinuz\nAPPEND ro\n{keyword} {bits}\n"
    assert boot(script, tftp, config).args == f"ro {expected}".strip()


def test_ipappend_without_gateway(script: Path, tftp: Path) -> None:
    facts = {k: v for k, v in DOC_FACTS.items() if k != "router"}
    result = boot(script, tftp, "DEFAULT l\nLABEL l\nKERNEL vmlinuz\nIPAPPEND 1\n", facts)
    assert result.args == "ip=192.168.2.91:192.168.2.3:0.0.0.0:255.255.255.0"


def test_global_ipappend_is_inherited_and_overridden(script: Path, tftp: Path) -> None:
    config = "IPAPPEND 2\nDEFAULT {}\nLABEL a\nKERNEL vmlinuz-a\nLABEL b\nKERNEL vmlinuz-b\n" \
             "IPAPPEND 0\n"
    assert boot(script, tftp, config.format("a")).args == "BOOTIF=01-88-99-aa-bb-cc-dd"
    assert boot(script, tftp, config.format("b")).args == ""


def test_ipappend_comes_before_default_arguments(script: Path, tftp: Path) -> None:
    config = "DEFAULT l more\nLABEL l\nKERNEL vmlinuz\nAPPEND ro\nINITRD a.img\nIPAPPEND 2\n"
    result = boot(script, tftp, config)
    assert result.args == "ro initrd=a.img BOOTIF=01-88-99-aa-bb-cc-dd more"
    assert result.initrds == ["mybootdir/a.img"]


# --- INCLUDE and paths ----------------------------------------------------------------------


def test_nested_include(script: Path, tftp: Path) -> None:
    files: dict[str, str | bytes] = {
        "mybootdir/menus/one.cfg": "LABEL one\nKERNEL vmlinuz-a\nINCLUDE menus/two.cfg\n",
        "mybootdir/menus/two.cfg": "LABEL two\nKERNEL vmlinuz-b\nAPPEND from=two\n",
    }
    config = "DEFAULT two\nINCLUDE menus/one.cfg\nLABEL three\nKERNEL vmlinuz\n"
    result = boot(script, tftp, config, extra_files=files)
    assert result.value("label") == "two"
    assert result.value("kernel") == "mybootdir/vmlinuz-b"
    assert result.args == "from=two"


def test_include_continues_the_current_label(script: Path, tftp: Path) -> None:
    files: dict[str, str | bytes] = {"mybootdir/common.cfg": "APPEND shared=1\nIPAPPEND 2\n"}
    config = "DEFAULT l\nLABEL l\nKERNEL vmlinuz\nINCLUDE common.cfg\n"
    result = boot(script, tftp, config, extra_files=files)
    assert result.args == "shared=1 BOOTIF=01-88-99-aa-bb-cc-dd"


def test_missing_include_is_skipped_with_a_warning(script: Path, tftp: Path) -> None:
    result = boot(script, tftp, "INCLUDE nowhere.cfg\nDEFAULT l\nLABEL l\nKERNEL vmlinuz\n")
    assert result.value("kernel") == "mybootdir/vmlinuz"
    assert "INCLUDE 'mybootdir/nowhere.cfg' not found" in result.stderr


def test_include_loop_stops_at_the_depth_limit(script: Path, tftp: Path) -> None:
    serve(tftp, {"mybootdir/pxelinux.cfg/default": "INCLUDE loop.cfg\n",
                 "mybootdir/loop.cfg": "INCLUDE loop.cfg\n"})
    result = run(script, tftp, DOC_FACTS)
    assert result.returncode == 1
    assert "nested more than 16 levels" in result.stderr


def test_double_colon_skips_the_prefix(script: Path, tftp: Path) -> None:
    files: dict[str, str | bytes] = {"images/vmlinuz": "k", "images/initrd": "i",
                                     "shared.cfg": "LABEL l\nKERNEL ::images/vmlinuz\n"
                                                   "INITRD ::images/initrd,a.img\n"}
    result = boot(script, tftp, "DEFAULT l\nINCLUDE ::shared.cfg\n", extra_files=files)
    assert result.value("kernel") == "images/vmlinuz"
    assert result.initrds == ["images/initrd", "mybootdir/a.img"]


# --- failures ---------------------------------------------------------------------------------


def test_missing_kernel(script: Path, tftp: Path) -> None:
    serve(tftp, {"mybootdir/pxelinux.cfg/default": "DEFAULT l\nLABEL l\nKERNEL gone\n"})
    result = run(script, tftp, DOC_FACTS)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "kernel 'mybootdir/gone' not found" in result.stderr


def test_missing_initrd(script: Path, tftp: Path) -> None:
    serve(tftp, {"mybootdir/pxelinux.cfg/default": "DEFAULT l\nLABEL l\nKERNEL k\n"
                 "INITRD a.img,gone.img\n", "mybootdir/k": "k", "mybootdir/a.img": "a"})
    result = run(script, tftp, DOC_FACTS)
    assert result.returncode == 1
    assert "initrd 'mybootdir/gone.img' not found" in result.stderr


def test_configuration_without_anything_to_boot(script: Path, tftp: Path) -> None:
    serve(tftp, {"mybootdir/pxelinux.cfg/default": "TIMEOUT 10\nMENU TITLE nothing\n"})
    result = run(script, tftp, DOC_FACTS)
    assert result.returncode == 1
    assert "No DEFAULT or UI configuration directive found!" in result.stderr
    assert "has no DEFAULT or UI, and nobody chose at boot:" in result.stderr


@pytest.mark.parametrize("args", [[], ["--tftp-root"], ["--bogus"]])
def test_usage_errors(script: Path, args: list[str]) -> None:
    result = subprocess.run([BUSYBOX, "sh", str(script), "--dry-run", *args],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "usage: pxeboot" in result.stderr


# --- quoting safety -------------------------------------------------------------------------

HOSTILE = "a=\"$(touch PWNED)\" `touch PWNED` ; touch PWNED | x & y * ? [a] ~ $HOME \\ 'q' >out"


def test_append_text_is_data_never_code(script: Path, tftp: Path, tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "decoy").write_text("a star must not expand to this file name")
    serve(tftp, {"mybootdir/pxelinux.cfg/default":
                 f"DEFAULT l\nLABEL l\nKERNEL vmlinuz\nAPPEND {HOSTILE}\n",
                 "mybootdir/vmlinuz": "k"})
    result = run(script, tftp, DOC_FACTS, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.args == " ".join(HOSTILE.split())
    assert sorted(p.name for p in cwd.iterdir()) == ["decoy"]


def test_hostile_label_names_and_dhcp_facts(script: Path, tftp: Path, tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    label = "$(touch${IFS}PWNED)"
    facts = {**DOC_FACTS, "pxeconffile": "x;touch PWNED", "uuid": "`touch PWNED`"}
    serve(tftp, {"mybootdir/pxelinux.cfg/default":
                 f"DEFAULT {label}\nLABEL {label}\nKERNEL vmlinuz\nIPAPPEND 4\n",
                 "mybootdir/vmlinuz": "k"})
    result = run(script, tftp, facts, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.value("label") == label
    assert result.args == "SYSUUID=`touch PWNed`"  # only hex digits fold
    assert list(cwd.iterdir()) == []


# --- syslinux's own reading of a line (com32/menu and ldlinux readconfig.c) -----------------


def test_the_whole_rest_of_a_label_line_is_its_name(script: Path, tftp: Path) -> None:
    """`LABEL my linux` names the label "my linux"; unattended, a menu boots its first."""
    result = boot(script, tftp, "UI menu.c32\nLABEL my linux\n  KERNEL vmlinuz-a\n  APPEND x=1\n"
                                "LABEL other\n  KERNEL vmlinuz-b\n")
    assert result.lines() == ["config=mybootdir/pxelinux.cfg/default", "label=my linux",
                              "kernel=mybootdir/vmlinuz-a", "append=BOOT_IMAGE=vmlinuz-a x=1"]


def test_a_label_is_looked_up_by_the_first_word_of_the_command_line(script: Path,
                                                                    tftp: Path) -> None:
    """`DEFAULT my linux`: the first word "my" is looked up; the label "my linux" is not
    called "my", so the later label "my" boots, with "linux" appended."""
    config = "DEFAULT my linux\nLABEL my linux\n  KERNEL vmlinuz-a\nLABEL my\n  KERNEL vmlinuz-b\n"
    result = boot(script, tftp, config)
    assert result.value("label") == "my"
    assert result.value("kernel") == "mybootdir/vmlinuz-b"
    assert result.args == "linux"


def test_menu_default_label_with_spaces_boots_itself(script: Path, tftp: Path) -> None:
    config = "UI menu.c32\nLABEL first\n  KERNEL vmlinuz-a\nLABEL rescue shell\n  MENU DEFAULT\n" \
             "  KERNEL vmlinuz-b\n"
    result = boot(script, tftp, config)
    assert result.value("label") == "rescue shell"
    assert result.value("kernel") == "mybootdir/vmlinuz-b"


def test_a_label_without_kernel_boots_its_whole_name_as_a_command_line(script: Path,
                                                                       tftp: Path) -> None:
    """The kernel defaults to the label's name: `LABEL vmlinuz quiet` runs kernel vmlinuz
    with the argument quiet."""
    result = boot(script, tftp, "UI menu.c32\nLABEL vmlinuz quiet\n  APPEND ro\n")
    assert result.value("kernel") == "mybootdir/vmlinuz"
    assert result.args == "quiet ro"


def test_a_cr_inside_a_line_ends_it(script: Path, tftp: Path) -> None:
    """syslinux cuts every line at its first CR: what follows it is not read."""
    config = "DEFAULT l\rignored\nLABEL l\n  KERNEL vmlinuz\r  KERNEL vmlinuz-b\n" \
             "  APPEND keep=1\rdropped=1\n"
    result = boot(script, tftp, config)
    assert result.value("label") == "l"
    assert result.value("kernel") == "mybootdir/vmlinuz"
    assert result.args == "keep=1"


def test_append_reaches_the_kernel_as_written(script: Path, tftp: Path, tmp_path: Path) -> None:
    """Quoted spaces, runs of blanks and glob characters are the kernel's to read."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "a1").write_text("a glob must not expand to this file name")
    text = 'dyndbg="file net.c +p"  msg="two  spaces"\ta?  * [a]1'
    serve(tftp, {"mybootdir/pxelinux.cfg/default":
                 f"DEFAULT l extra  words\nLABEL l\n KERNEL vmlinuz k=\"x  y\"\n APPEND {text}\n"
                 " INITRD a.img\n IPAPPEND 2\n", "mybootdir/vmlinuz": "k", "mybootdir/a.img": "a"})
    result = run(script, tftp, DOC_FACTS, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.args == \
        f'k="x  y" {text} initrd=a.img BOOTIF=01-88-99-aa-bb-cc-dd extra  words'
    assert result.initrds == ["mybootdir/a.img"]


def test_initrd_is_found_anywhere_in_the_line_as_syslinux_does(script: Path, tftp: Path) -> None:
    """kernel.c's strstr(cmdline, "initrd=") knows no quotes or word starts: the first
    occurrence names the initrds, even inside quotes or another word."""
    config = 'DEFAULT l\nLABEL l\nKERNEL vmlinuz\nAPPEND note="initrd=a.img here" initrd=b.img\n'
    result = boot(script, tftp, config)
    assert result.initrds == ["mybootdir/a.img"]
    assert result.args == 'note="initrd=a.img here" initrd=b.img'
    config = "DEFAULT l\nLABEL l\nKERNEL vmlinuz\nAPPEND rd.noinitrd=c.img,a.img x\n"
    assert boot(script, tftp, config).initrds == ["mybootdir/c.img", "mybootdir/a.img"]


def generated_labels(count: int) -> str:
    lines = [f"DEFAULT l{count - 1}"]
    for i in range(count):
        lines += [f"LABEL l{i}", "  KERNEL vmlinuz", f"  APPEND n={i}", "  IPAPPEND 2"]
    return "\n".join(lines) + "\n"


def timed_boot(script: Path, root: Path, count: int) -> float:
    serve(root, {"mybootdir/pxelinux.cfg/default": generated_labels(count),
                 "mybootdir/vmlinuz": "k"})
    started = time.monotonic()
    result = run(script, root, DOC_FACTS, timeout=600)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.value("label") == f"l{count - 1}"
    assert result.args == f"n={count - 1} BOOTIF=01-88-99-aa-bb-cc-dd"
    return elapsed


def test_ten_thousand_labels_in_linear_time(script: Path, tmp_path: Path) -> None:
    """Five times the labels may cost about five times as long, not twenty-five: the
    10,000-label config of the issue (18 s before, quadratic) against 2,000 labels."""
    small = timed_boot(script, tmp_path / "small", 2000)
    large = timed_boot(script, tmp_path / "large", 10000)
    assert large < 10 * max(small, 0.2), (small, large)
    assert large < 20, (small, large)


# --- the dry run is confined to its TFTP root, as a TFTP server is ----------------------------


def test_kernel_outside_the_tftp_root_is_refused(script: Path, tmp_path: Path) -> None:
    tftp = tmp_path / "srv" / "tftp"
    tftp.mkdir(parents=True)
    (tmp_path / "srv" / "secret").write_text("not for the client")
    serve(tftp, {"mybootdir/pxelinux.cfg/default": "DEFAULT l\nLABEL l\nKERNEL ../../secret\n"})
    work = tmp_path / "work"
    result = run(script, tftp, DOC_FACTS, "--work-dir", str(work))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "kernel 'mybootdir/../../secret'" in result.stderr
    assert "outside the TFTP root" in result.stderr and "access violation" in result.stderr
    assert not (work / "kernel").exists()


def test_option_209_outside_the_tftp_root_is_refused(script: Path, tmp_path: Path) -> None:
    tftp = tmp_path / "srv" / "tftp"
    tftp.mkdir(parents=True)
    (tmp_path / "srv" / "x").write_text("DEFAULT vmlinuz-b\n")
    facts = {**DOC_FACTS, "bootfile": "pxelinux.0", "pxeconffile": "../x"}
    serve(tftp, {"pxelinux.cfg/default": "DEFAULT vmlinuz\n", "vmlinuz": "k", "vmlinuz-b": "b"})
    result = run(script, tftp, facts)
    assert result.returncode == 0, result.stderr
    assert result.value("config") == "pxelinux.cfg/default"
    assert "'../x' is outside the TFTP root" in result.stderr


def test_symlink_out_of_the_tftp_root_is_refused(script: Path, tmp_path: Path) -> None:
    tftp = tmp_path / "tftp"
    serve(tftp, {"mybootdir/pxelinux.cfg/default": "DEFAULT l\nLABEL l\nKERNEL vmlinuz\n"})
    (tmp_path / "outside").write_text("host file")
    (tftp / "mybootdir" / "vmlinuz").symlink_to(tmp_path / "outside")
    result = run(script, tftp, DOC_FACTS)
    assert result.returncode == 1
    assert "kernel 'mybootdir/vmlinuz' is outside the TFTP root" in result.stderr


def test_dot_dot_that_stays_inside_the_root_is_served(script: Path, tftp: Path) -> None:
    result = boot(script, tftp, "DEFAULT l\nLABEL l\nKERNEL ../mybootdir/vmlinuz-a\n")
    assert result.value("kernel") == "mybootdir/../mybootdir/vmlinuz-a"
