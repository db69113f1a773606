"""`compose --sbom`: the SPDX 2.3 document of a real image, validated by the SPDX project's
own parser and validator (spdx-tools), and checked against the sysroot's packages.

The sysroot is fetched here, into a directory of this module, with curl added (curl ->
libcurl4 -> zlib1g's libz.so.1), so the dpkg database the fetcher writes is the one read,
and a file of zlib1g is in the image."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from under_test import compose

FETCH = Path(__file__).resolve().parents[2] / "scripts" / "fetch-sysroot"
EPOCH = "1700000000"


def fetch(dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(FETCH), "--dest", str(dest), "--package", "curl"],
                          capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def sysroot_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("sbom") / "sysroot"
    result = fetch(dest)
    if result.returncode != 0:
        pytest.skip(f"no sysroot: {result.stderr.strip()[-300:]}")
    return dest


@pytest.fixture(scope="module")
def sbom(sysroot_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("sbom-build")
    (work / "curl.yaml").write_text("extends: pxelinux\nbinaries:\n  - curl\n")
    env = {"SOURCE_DATE_EPOCH": EPOCH, "PATH": "/usr/bin:/bin"}
    built = compose(work / "curl.yaml", "--sysroot", sysroot_db, "-o", work / "curl.img",
                    "--sbom", work / "curl.spdx.json", env=env)
    assert built.returncode == 0, built.stderr
    again = compose(work / "curl.yaml", "--sysroot", sysroot_db, "-o", work / "again.img",
                    "--sbom", work / "again.spdx.json", env=env)
    assert again.returncode == 0, again.stderr
    assert (work / "again.spdx.json").read_bytes() == (work / "curl.spdx.json").read_bytes()
    return work / "curl.spdx.json"


def test_the_spdx_projects_tools_find_the_sbom_valid(sbom: Path) -> None:
    document = parse_file(str(sbom))
    assert validate_full_spdx_document(document) == []
    assert document.creation_info.created.isoformat().startswith("2023-11-14T22:13:20")


def test_the_packages_have_the_sysroots_versions_and_licenses(sbom: Path,
                                                              sysroot_db: Path) -> None:
    data = json.loads(sbom.read_text())
    packages = {p["name"]: p for p in data["packages"]}
    fetched = json.loads((sysroot_db / ".composer-sysroot.json").read_text())["packages"]
    kernels = [name for name in packages if name.startswith("linux-image-6")]
    assert len(kernels) == 1
    for name in ("busybox-static", "kexec-tools", "libc6", "zlib1g", kernels[0]):
        assert packages[name]["versionInfo"] == fetched[name]
        assert packages[name]["licenseDeclared"] != "NOASSERTION", name
        assert packages[name]["externalRefs"][0]["referenceLocator"].startswith(
            f"pkg:deb/debian/{name}@")
    assert packages["zlib1g"]["licenseDeclared"] == "Zlib"  # its copyright is DEP-5
    assert "GPL-2.0-only" in packages[kernels[0]]["licenseDeclared"]
    assert packages["busybox-static"]["licenseDeclared"] == "LicenseRef-debian-common-GPL-2"
    assert "not machine-readable" in packages["busybox-static"]["licenseComments"]


def test_each_file_belongs_to_the_package_that_installed_it(sbom: Path,
                                                            sysroot_db: Path) -> None:
    data = json.loads(sbom.read_text())
    files = {f["SPDXID"]: f for f in data["files"]}
    names = {p["SPDXID"]: p["name"] for p in data["packages"]}
    owner = {files[r["relatedSpdxElement"]]["fileName"]: names[r["spdxElementId"]]
             for r in data["relationships"]
             if r["relationshipType"] == "CONTAINS" and r["spdxElementId"] !=
             "SPDXRef-Package-image"}
    assert owner["./sbin/kexec"] == "kexec-tools"
    assert owner["./bin/busybox"] == "busybox-static"
    assert owner["./lib/s390x-linux-gnu/libc.so.6"] == "libc6"
    assert owner["./usr/bin/curl"] == "curl"
    assert any(name.startswith("./lib/s390x-linux-gnu/libz.so") or
               name.startswith("./usr/lib/s390x-linux-gnu/libz.so")
               for name, package in owner.items() if package == "zlib1g")
    assert owner["./init"] == "curl.yaml"  # the recipe's own files
    assert owner["./sbin/pxeboot"] == "curl.yaml"
    assert owner[next(n for n in owner if n.startswith("./boot/vmlinuz-"))].startswith(
        "linux-image-6")
    kexec = next(f for f in data["files"] if f["fileName"] == "./sbin/kexec")
    sha256 = hashlib.sha256((sysroot_db / "sbin/kexec").read_bytes()).hexdigest()
    assert {"algorithm": "SHA256", "checksumValue": sha256} in kexec["checksums"]
    assert any(c["algorithm"] == "SHA1" for c in kexec["checksums"])


def test_diff_of_two_sboms_names_the_packages_that_changed(sbom: Path, sysroot_db: Path,
                                                          tmp_path: Path) -> None:
    recipe = sbom.with_name("strace.yaml")  # beside its base: extends stays in the directory
    recipe.write_text("extends: curl.yaml\nbinaries:\n  - strace\n")
    more = tmp_path / "strace.spdx.json"
    built = compose(recipe, "--sysroot", sysroot_db, "-o", tmp_path / "strace.img",
                    "--sbom", more)
    assert built.returncode == 0, built.stderr
    diff = compose("diff", sbom, more)
    assert diff.returncode == 1, diff.stderr
    lines = diff.stdout.splitlines()
    assert any(line.startswith("+ strace ") for line in lines), lines
    assert not any(line.startswith(("- ", "~ ")) for line in lines), lines
    assert lines[-1].startswith("1 added, 0 removed, 0 changed")  # libc6 was there already
    same = compose("diff", "--sbom", "--json", sbom, sbom)
    assert same.returncode == 0 and json.loads(same.stdout)["equal"] is True


def test_the_fetcher_adds_the_database_to_an_existing_sysroot(sysroot_db: Path,
                                                              tmp_path: Path) -> None:
    copy = tmp_path / "old-sysroot"
    shutil.copytree(sysroot_db, copy, symlinks=True)
    listed = (copy / "var/lib/dpkg/info/kexec-tools.list").read_text()
    shutil.rmtree(copy / "var/lib/dpkg")
    (copy / "boot" / "unpacked-before").write_text("kept")  # not unpacked again
    result = fetch(copy)
    assert result.returncode == 0, result.stderr
    assert "unpacking" not in result.stderr
    assert (copy / "boot" / "unpacked-before").is_file()
    assert (copy / "var/lib/dpkg/info/kexec-tools.list").read_text() == listed
    assert "Package: libc6\nStatus: install ok installed\n" in \
        (copy / "var/lib/dpkg/status").read_text()


def test_inspect_sizes_splits_the_bytes_by_package_module_and_recipe_entry(
        sbom: Path) -> None:
    image = sbom.with_name("curl.img")
    result = compose("inspect", "--sizes", "--json", image, "--sbom", sbom)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    by_package = {row["name"]: row["bytes"] for row in data["by_package"]}
    document = json.loads(sbom.read_text())
    files = {f["SPDXID"]: f for f in document["files"]}
    zlib_id = next(p["SPDXID"] for p in document["packages"] if p["name"] == "zlib1g")
    zlib_files = [files[r["relatedSpdxElement"]] for r in document["relationships"]
                  if r["spdxElementId"] == zlib_id and r["relationshipType"] == "CONTAINS"]
    assert by_package["zlib1g"] == sum(int(f["comment"].split(" ")[0]) for f in zlib_files)
    sizes = [row["bytes"] for row in data["by_package"]]
    assert sizes == sorted(sizes, reverse=True)
    assert sum(sizes) == data["total"]
    modules = {row["name"] for row in data["by_module"]}
    assert {"virtio_net", "net_failover", "failover"} <= modules
    entries = {row["name"] for row in data["by_entry"]}
    assert "binaries: curl" in entries and "kernel" in entries
    text = compose("inspect", "--sizes", image, "--sbom", sbom).stdout
    assert "by package:" in text and "by module:" in text and "█" not in text  # piped


def test_the_cyclonedx_form_is_valid_and_lists_the_same_packages(
        sbom: Path, sysroot_db: Path) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    out = sbom.with_name("curl.cdx.json")
    built = compose(sbom.with_name("curl.yaml"), "--sysroot", sysroot_db, "-o",
                    sbom.with_name("cdx.img"), "--sbom", out, "--sbom-format", "cyclonedx",
                    env={"SOURCE_DATE_EPOCH": EPOCH, "PATH": "/usr/bin:/bin"})
    assert built.returncode == 0, built.stderr
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(out.read_text()) is None
    data = json.loads(out.read_text())
    assert data["metadata"]["timestamp"] == "2023-11-14T22:13:20Z"
    components = {c["name"]: c for c in data["components"]}
    spdx = {p["name"]: p["versionInfo"] for p in json.loads(sbom.read_text())["packages"]
            if p["SPDXID"].startswith("SPDXRef-Package-deb-")}
    assert {name: c["version"] for name, c in components.items() if name in spdx} == spdx
    assert components["zlib1g"]["licenses"] == [{"expression": "Zlib"}]
    assert components["zlib1g"]["purl"].startswith("pkg:deb/debian/zlib1g@")
    names = {f["name"] for f in components["kexec-tools"]["components"]}
    assert "/sbin/kexec" in names
