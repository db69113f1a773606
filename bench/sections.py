"""The five measurements of issues 8 and 17, each a function from the bench to its tables.

The composer runs as `compose ... -v`, from our wheel installed into a virtual
environment of its own (bench/install.py; `--checkout`: `python -m composer` from the
checkout): a cold process whose wall time
includes interpreter start, imports and the plan (module resolution), which the peers
don't do at all; its `-v` stage lines give the archive stage alone, shown as its own
row. Peers get the composer's own file list, staged once.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import Command, Series, file_size, interleaved
from bench.report import Table, Target, megabytes, mib, seconds
from bench.trees import (
    REPO,
    Staged,
    all_modules_recipe,
    both_kernels_recipe,
    dracut_tree,
    planned,
    planned_entries,
    stage,
)

ORDER = ("pxelinux", "uncompressed", "compressed", "memory", "dracut")
TIMING_COLUMNS = ["tool", "wall s (median)", "min-max", "vs cpio", "vs cat", "peak RSS MiB",
                  "output MB"]


def progress(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


@dataclass
class Bench:
    runs: int
    dracut_runs: int
    work: Path
    s390x: Path
    amd64: Path | None
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    staged: dict[str, tuple[Staged, Path]] = field(default_factory=dict)
    installed: Path | None = None  # the wheel's `compose` script; None: the checkout

    def out(self, name: str) -> Path:
        return self.work / "out" / name

    def compose(self, name: str, recipe: Path, sysroot: Path, output: Path,
                flag: str = "--initramfs", env: dict[str, str] | None = None,
                before: Callable[[], None] | None = None) -> Command:
        args = [str(recipe), "--sysroot", str(sysroot), flag, str(output), "-v"]
        if self.installed is not None:  # the wheel, as users run it (bench/install.py)
            argv = [str(self.installed), *args]
            env = {"PYTHONDONTWRITEBYTECODE": "", **(env or {})}
        else:
            # --checkout: bytecode cached as for installed software (here: outside the
            # repository), even where PYTHONDONTWRITEBYTECODE is set; the warm-up run
            # writes it.
            argv = [sys.executable, "-m", "composer", *args]
            env = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(self.work / "pyc"),
                   **(env or {})}
        return Command(name, shlex.join(argv), REPO, env=env, output=output, before=before)

    def stage_s390x(self) -> tuple[Staged, Path]:
        """The all-modules tree of the s390x sysroot, staged once for every peer."""
        if "s390x" not in self.staged:
            entries = planned_entries(all_modules_recipe("none"), self.s390x)
            staged = stage(entries, self.work / "stage-s390x")
            self.staged["s390x"] = (staged, staged.write_list(self.work / "list-s390x"))
            (self.work / "out").mkdir(exist_ok=True)
            files = self.work / "files-s390x"
            files.write_text("".join(f"{name}\n" for name in staged.files))
        return self.staged["s390x"]

    def timed(self, commands: Sequence[Command], runs: int | None = None) -> dict[str, Series]:
        return interleaved(commands, runs or self.runs, progress=progress)


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def timing_row(name: str, wall: float | None, spread: tuple[float, float] | None,
               cpio: float | None, cat: float | None, rss: str, size: str) -> list[str]:
    span = "-" if spread is None else f"{spread[0]:.3f}-{spread[1]:.3f}"
    return [name, seconds(wall), span, ratio(wall, cpio), ratio(wall, cat), rss, size]


def composer_rows(series: Series, output: Path, cpio: float | None,
                  cat: float | None) -> list[list[str]]:
    """The whole process, then its archive stage alone (from `compose -v`)."""
    archive = series.stage("archive")
    return [
        timing_row(f"composer: `compose` process ({series.name})", series.wall, series.spread,
                   cpio, cat, mib(series.rss_kib), megabytes(file_size(output))),
        timing_row("composer: its archive stage (`-v`)", archive, None, cpio, cat, "", ""),
    ]


def stages_note(series: Series) -> str:
    plan, archive = series.stage("plan"), series.stage("archive")
    rest = series.wall - (plan or 0) - (archive or 0) - (series.stage("recipe") or 0)
    return (f"composer `{series.name}` stages (medians): plan {seconds(plan)} s (module "
            f"resolution), archive {seconds(archive)} s; interpreter start, imports and "
            f"the rest {rest:.3f} s")


def archive_names(path: Path) -> list[str]:
    done = subprocess.run(["bsdtar", "-tf", str(path)], capture_output=True, text=True,
                          check=True)
    return [n for n in done.stdout.splitlines() if n != "TRAILER!!!"]


def pxelinux(bench: Bench) -> list[Table]:
    """The recipe end to end against the seed's own pipeline on the same content.

    The seed packs a staged tree with `find . | cpio -o -H newc | gzip -` (gzip's
    default level, 6) and appends the result to the kernel with `cat`; here its tree
    is staged beforehand from the composer's plan, so its side does no resolution,
    rendering or checking at all. Both write their image to the same disk directory.

    The composer runs three ways, each with a cache home of its own in the work
    directory: warm (every cache filled by the runs before: the build after the first),
    cold (the parse, verdict, render and gzip (members, deflate) caches emptied before every
    run, the index cache kept: a build after a change of every block, as the figures before those
    caches were measured) and with COMPOSER_CACHE=off (nothing remembered at all).
    """
    recipe = REPO / "recipes" / "pxelinux.yaml"
    table = Table("1. `pxelinux` recipe end to end (s390x sysroot, cold process)",
                  ["tool", "caches", "wall s (median)", "min-max", "vs seed", "CPU s",
                   "CPU vs seed", "plan s", "archive s", "peak RSS MiB", "image MB"])
    if not recipe.exists():
        table.notes.append("recipes/pxelinux.yaml is not in the repository yet")
        return [table]
    from composer.recipe import load_recipe

    codec = load_recipe(recipe).recipe.compression.compression()
    the_plan = planned(recipe, bench.s390x)
    assert the_plan.kernel is not None, "recipes/pxelinux.yaml names a kernel"
    staged = stage(the_plan.entries, bench.work / "stage-pxelinux")
    warm_home, cold_home = bench.work / "cache-warm", bench.work / "cache-cold"

    def empty_cold_caches() -> None:
        for kind in ("deflate", "members", "render", "parse", "verdict"):
            shutil.rmtree(cold_home / "composer" / kind, ignore_errors=True)

    # On disk, as a user would write it: the composer fsyncs its outputs.
    with tempfile.TemporaryDirectory(prefix="composer-bench-") as disk:
        images = {name: Path(disk) / f"{name}.0" for name in ("warm", "cold", "off")}
        seed_image, initrd = Path(disk) / "seed.0", Path(disk) / "seed-initrd.gz"
        seed = (f"find . | cpio -o -H newc --quiet | gzip - > {shlex.quote(str(initrd))} && "
                f"cat {shlex.quote(str(the_plan.kernel.path))} {shlex.quote(str(initrd))}"
                f" > {shlex.quote(str(seed_image))}")
        series = bench.timed([
            Command("seed", seed, staged.root, output=seed_image),
            bench.compose("warm", recipe, bench.s390x, images["warm"], "-o",
                          env={"XDG_CACHE_HOME": str(warm_home)}),
            bench.compose("cold", recipe, bench.s390x, images["cold"], "-o",
                          env={"XDG_CACHE_HOME": str(cold_home)}, before=empty_cold_caches),
            bench.compose("off", recipe, bench.s390x, images["off"], "-o",
                          env={"COMPOSER_CACHE": "off"}),
        ])
        sizes = {name: file_size(path) for name, path in images.items()}
        same = len({path.read_bytes() for path in images.values()}) == 1
        seed_size = file_size(seed_image)
        fs = subprocess.run(["stat", "-f", "-c", "%T", disk], capture_output=True, text=True,
                            check=False).stdout.strip()
    base = series["seed"]
    level = f"gzip {codec.effective_level}" + (f", {codec.threads} threads"
                                               if codec.threads else "")
    caches = {"warm": "warm (index, parse, verdict, render, gzip members)",
              "cold": "parse, verdict, render, gzip members emptied; index warm",
              "off": "`COMPOSER_CACHE=off`"}
    for name in ("warm", "cold", "off"):
        s = series[name]
        table.rows.append(
            [f"composer: `compose recipes/pxelinux.yaml` ({level})", caches[name],
             seconds(s.wall), "{:.3f}-{:.3f}".format(*s.spread), ratio(s.wall, base.wall),
             seconds(s.cpu), ratio(s.cpu, base.cpu), seconds(s.stage("plan")),
             seconds(s.stage("archive")), mib(s.rss_kib), megabytes(sizes[name])])
    table.rows.append(
        ["seed: `find . | cpio -o -H newc | gzip -` + `cat` kernel (gzip 6)", "",
         seconds(base.wall), "{:.3f}-{:.3f}".format(*base.spread), "1.00x",
         seconds(base.cpu), "1.00x", "", "", mib(base.rss_kib), megabytes(seed_size)])
    table.notes += [
        "a fresh `python -m composer` per run: interpreter start, imports, recipe, schema, "
        "resolution, archive, image and fsync included; the page cache is warm; the four "
        "commands run round-robin; both images are written to " + fs,
        "caches: warm is the build after the first (the warm-up round fills its cache "
        "home); cold empties the parse, verdict, render and gzip (members, deflate) caches before "
        "each run (outside "
        "the timing) but keeps the index cache (.modinfo, busybox's applet table), as every "
        "figure before those caches was measured; off reads and computes everything",
        f"the three composer images are the same bytes: {same}",
        "CPU s: user + system time of the whole command (every process and thread); on "
        "a machine with no core free, it is what the wall time follows",
        f"the seed's tree ({len(staged.names)} entries, {staged.data_bytes / 1e6:.1f} MB of "
        "files) is staged from the composer's plan beforehand, outside the timing; "
        f"full command, in that tree: `{seed}`".replace(disk, "$DISK"),
    ]
    bench.targets += [
        Target(f"pxelinux cold process ({codec.codec}, warm caches)", series["warm"].wall,
               1.0, "s"),
        Target("pxelinux: whole `compose` process / the seed's pipeline (warm caches)",
               series["warm"].wall / base.wall, 1.0, "x"),
        Target("pxelinux: whole `compose` process / the seed's pipeline (parse, render "
               "and gzip caches cold)", series["cold"].wall / base.wall, 1.0, "x"),
    ]
    return [table]


def uncompressed(bench: Bench) -> list[Table]:
    staged, names = bench.stage_s390x()
    files = bench.work / "files-s390x"
    outs = {k: bench.out(f"{k}.cpio") for k in ("composer", "cpio", "bsdtar", "cat")}
    commands = [
        bench.compose("none", all_modules_recipe("none"), bench.s390x, outs["composer"]),
        Command("cpio", f"cpio -o -H newc --quiet < {names} > {outs['cpio']}", staged.root,
                output=outs["cpio"]),
        Command("bsdtar", f"bsdtar --format newc -n -cf {outs['bsdtar']} -T {names}",
                staged.root, output=outs["bsdtar"]),
        Command("cat", f"xargs -d '\\n' cat -- < {files} > {outs['cat']}", staged.root,
                output=outs["cat"]),
    ]
    series = bench.timed(commands)
    cpio, cat = series["cpio"].wall, series["cat"].wall
    table = Table(f"2. All {len(staged.files)} s390x modules, uncompressed "
                  f"({staged.data_bytes / 1e6:.0f} MB of files, {len(staged.names)} "
                  "entries)", TIMING_COLUMNS)
    table.rows += composer_rows(series["none"], outs["composer"], cpio, cat)
    for name, shown in (("cpio", "GNU `cpio -o -H newc`"), ("bsdtar", "`bsdtar --format newc`"),
                        ("cat", "`cat` of the files (floor)")):
        s = series[name]
        table.rows.append(timing_row(shown, s.wall, s.spread, cpio, cat, mib(s.rss_kib),
                                     megabytes(file_size(outs[name]))))
    table.notes.append(stages_note(series["none"]))
    table.notes.append("the composer's index cache (~/.cache/composer/index) is warm after "
                       "the warm-up round, as for any build after the first")
    ours, theirs = archive_names(outs["composer"]), archive_names(outs["cpio"])
    extra = sorted(set(ours) - set(theirs))
    same = [n for n in ours if n not in extra] == theirs
    table.notes.append(f"same names in the same order as GNU cpio's archive: {same}; the "
                       f"composer's image also holds {', '.join(extra) or 'nothing else'} "
                       "(device nodes can't be staged without root)")
    archive = series["none"].stage("archive")
    bench.targets += [
        Target("uncompressed: archive stage / GNU cpio", (archive or 0) / cpio, 0.5, "x"),
        Target("uncompressed: archive stage / cat", (archive or 0) / cat, 2.0, "x"),
        Target("uncompressed: whole `compose` process / GNU cpio (issue 8)",
               series["none"].wall / cpio, 0.5, "x"),
        Target("uncompressed: whole `compose` process / GNU cpio (issue 17)",
               series["none"].wall / cpio, 1.0, "x"),
    ]
    return [table]


def compressed(bench: Bench) -> list[Table]:
    """Every compressor really compresses: the deflate cache (which would turn a rebuild
    of unchanged content into lookups) is emptied before each run; the index cache is
    kept, as for every build after the first."""
    staged, names = bench.stage_s390x()
    home = bench.work / "cache-compressed"

    def empty_deflate_cache() -> None:
        for kind in ("deflate", "members"):  # zlib's blocks, libdeflate's members
            shutil.rmtree(home / "composer" / kind, ignore_errors=True)

    tables = []
    for codec, peer, label in (("zstd", "zstd -3 -T0 -q", "zstd -3, 2 threads"),
                               ("gzip", "gzip -6", "gzip -6"),
                               ("gzip-threads", "gzip -6", "gzip -6, composer on 2 threads")):
        ours, theirs = bench.out(f"composer.{codec}"), bench.out(f"cpio.{codec}")
        pipeline = f"cpio -o -H newc --quiet < {names} | {peer} > {theirs}"
        series = bench.timed([
            bench.compose(codec, all_modules_recipe(codec), bench.s390x, ours,
                          env={"XDG_CACHE_HOME": str(home)}, before=empty_deflate_cache),
            Command(f"cpio | {peer}", pipeline, staged.root, output=theirs),
        ])
        base = series[f"cpio | {peer}"]
        table = Table(f"3. All s390x modules, {label}",
                      ["tool", "wall s (median)", "min-max", f"vs cpio | {peer.split()[0]}",
                       "peak RSS MiB", "output MB"])
        s = series[codec]
        low, high = s.spread
        table.rows += [
            [f"composer: `compose` process ({codec})", seconds(s.wall), f"{low:.3f}-{high:.3f}",
             ratio(s.wall, base.wall), mib(s.rss_kib), megabytes(file_size(ours))],
            ["composer: its archive stage (`-v`)", seconds(s.stage("archive")), "",
             ratio(s.stage("archive"), base.wall), "", ""],
            [f"`cpio -o -H newc | {peer}`", seconds(base.wall),
             f"{base.spread[0]:.3f}-{base.spread[1]:.3f}", "1.00x", mib(base.rss_kib),
             megabytes(file_size(theirs))],
        ]
        table.notes.append(stages_note(s))
        table.notes.append("the gzip caches (members, deflate) are emptied before every "
                           "composer run (outside the timing): the compressor does all "
                           "its work, as on new content")
        tables.append(table)
        bench.targets.append(Target(f"{codec}: whole `compose` process / cpio | {peer}",
                                    s.wall / base.wall, 1.0, "x"))
    return tables


def memory(bench: Bench) -> list[Table]:
    assert bench.amd64 is not None
    (bench.work / "out").mkdir(exist_ok=True)
    recipes = bench.work / "recipes"
    recipes.mkdir(exist_ok=True)
    cases = [
        ("s390x modules, none", all_modules_recipe("none"), bench.s390x, "none"),
        ("amd64 modules, none", all_modules_recipe("none"), bench.amd64, "none"),
        ("both kernels, none", both_kernels_recipe(recipes, bench.amd64, bench.s390x, "none"),
         bench.amd64, "none"),
        ("both kernels, zstd -3 x2", both_kernels_recipe(recipes, bench.amd64, bench.s390x,
                                                         "zstd"), bench.amd64, "zstd"),
    ]
    home = bench.work / "cache-memory"

    def empty_deflate_cache() -> None:
        for kind in ("deflate", "members"):  # zlib's blocks, libdeflate's members
            shutil.rmtree(home / "composer" / kind, ignore_errors=True)

    commands = [bench.compose(name, recipe, root, bench.out(f"mem-{i}"),
                              env={"XDG_CACHE_HOME": str(home)}, before=empty_deflate_cache)
                for i, (name, recipe, root, _) in enumerate(cases)]
    series = bench.timed(commands)
    table = Table("4. Peak memory as the image grows (cold `compose` process)",
                  ["content", "archive MB (uncompressed)", "output MB", "wall s",
                   "peak RSS MiB"])
    biggest = 0
    for i, (name, _, _, _) in enumerate(cases):
        s = series[name]
        size = file_size(bench.out(f"mem-{i}"))
        archive = _archive_bytes(bench.out(f"mem-{i}")) if "zstd" in name else size
        table.rows.append([name, megabytes(archive), megabytes(size), seconds(s.wall),
                           mib(s.rss_kib)])
        if archive >= 500_000_000:
            biggest = max(biggest, s.rss_kib)
    table.notes.append("peak RSS of the whole process (GNU time %M), interpreter and "
                       "imports included")
    bench.targets.append(Target("peak RSS composing >= 500 MB", biggest / 1024, 150, "MiB"))
    return [table]


def _archive_bytes(path: Path) -> int:
    done = subprocess.run(f"zstd -dcq < {shlex.quote(str(path))} | wc -c", shell=True,
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def dracut(bench: Bench) -> list[Table]:
    assert bench.amd64 is not None
    table = Table("5. Against dracut: every module of the Debian amd64 kernel, uncompressed",
                  ["tool", "wall s (median)", "min-max", "dracut / tool", "peak RSS MiB",
                   "output MB", "entries"])
    if shutil.which("dracut") is None:
        table.notes.append("dracut is not installed (apt-get install dracut-core)")
        return [table]
    (bench.work / "out").mkdir(exist_ok=True)
    # Beside the sysroot, so the module files can be hard links instead of copies.
    tree = Path(tempfile.mkdtemp(prefix=".bench-dracut-", dir=bench.amd64.parent))
    try:
        root, release = dracut_tree(tree / "root", bench.amd64)
        empty = tree / "conf.d"
        empty.mkdir()
        ours, theirs = bench.out("composer-amd64.cpio"), bench.out("dracut.img")
        argv = ["dracut", "--no-hostonly", "--no-early-microcode", "--conf", "/dev/null",
                "--confdir", str(empty), "--kver", release, "--kmoddir",
                str(root / "lib/modules" / release), "--modules", "base", "--add-drivers",
                "=", "--no-compress", "--force", str(theirs)]
        series = bench.timed([
            Command("dracut", shlex.join(argv) + " 2>/dev/null", tree, output=theirs),
            bench.compose("composer", all_modules_recipe("none"), root, ours),
        ], runs=bench.dracut_runs)
        base = series["dracut"].wall
        for name, shown, output in (("dracut", f"`{shlex.join(argv[:3])} ...`", theirs),
                                    ("composer", "composer `compose` process", ours)):
            s = series[name]
            table.rows.append([shown, seconds(s.wall), f"{s.spread[0]:.3f}-{s.spread[1]:.3f}",
                               ratio(base, s.wall), mib(s.rss_kib),
                               megabytes(file_size(output)), str(len(archive_names(output)))])
        table.notes.append(f"the tree: {release}'s modules unpacked from the Debian package "
                           "(hard links), indexed by `depmod -b DIR`; full dracut command: "
                           f"`{shlex.join(argv).replace(str(tree), '$TREE')}`".replace(
                               str(bench.work), "$WORK"))
        bench.targets.append(Target("dracut / composer (all amd64 modules)",
                                    base / series["composer"].wall, 10.0, "x", at_least=True))
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    return [table]


RUN: dict[str, Callable[[Bench], list[Table]]] = {
    "pxelinux": pxelinux,
    "uncompressed": uncompressed,
    "compressed": compressed,
    "memory": memory,
    "dracut": dracut,
}
