#!/usr/bin/env python3
"""`dhcp: auto` on an IPv6-only site: how long /init waits for its lease, an older
bootscripts/init.sh against this tree's, in the same run.

    python bench/dhcp_auto.py                  # 3 rounds, before = main's init.sh
    python bench/dhcp_auto.py --runs 5 --base HEAD~3 --timeout 3 --retries 5

The site is tests/e2e/test_dhcp_auto.py's (root: two network namespaces): dnsmasq with
router advertisements and stateful DHCPv6 with option 59, no DHCPv4 server; the rendered
/init (`/init net`, the stock recipe with dhcp_timeout and dhcp_retries as given) with
the host's busybox applets and dhcpcd. Measured on the server's side of the link: the
first DHCPv4 DISCOVER and the first DHCPv6 SOLICIT, and the end of `/init net` (the
lease recorded, dhcpcd stopped), in seconds from init's start; the DISCOVERs sent.
Before and after alternate round by round. On the host, not under TCG: the waits are
the protocol's, dhcpcd's start is faster than in the guest.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "e2e")]
import test_dhcp_auto as site  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--base", default="main", help="git ref of the 'before' init.sh")
    parser.add_argument("--timeout", type=int, default=3, help="dhcp_timeout (stock 3)")
    parser.add_argument("--retries", type=int, default=5, help="dhcp_retries (stock 5)")
    args = parser.parse_args()
    before = subprocess.run(["git", "-C", str(REPO), "show", f"{args.base}:bootscripts/init.sh"],
                            capture_output=True, text=True, check=True).stdout
    images = {f"before ({args.base})": before, "after (this tree)": None}
    rows: dict[str, list[site.Site]] = {name: [] for name in images}
    for run in range(args.runs):
        for name, init_sh in images.items():
            with tempfile.TemporaryDirectory() as tmp:
                got = site.run_site(Path(tmp), site.IPV6_ONLY, args.timeout, args.retries,
                                    init_sh)
            if got.status != "init=0" or not got.solicits:
                print(f"{name} run {run + 1}: no DHCPv6 lease\n{got.console}", file=sys.stderr)
                return 1
            rows[name].append(got)
            print(f"{name} run {run + 1}: {len(got.discovers)} DISCOVERs, SOLICIT at "
                  f"{got.solicits[0]:.2f} s, lease at {got.end:.2f} s", file=sys.stderr)
    print(f"dhcp: auto, IPv6-only site, dhcp_timeout {args.timeout} x dhcp_retries "
          f"{args.retries}, medians of {args.runs}:\n")
    print("| init.sh | DISCOVERs | first SOLICIT | lease (`/init net` ends) |")
    print("|---|---|---|---|")
    for name, got_rows in rows.items():
        print(f"| {name} | {statistics.median(len(g.discovers) for g in got_rows):.0f} | "
              f"{statistics.median(g.solicits[0] for g in got_rows):.2f} s | "
              f"{statistics.median(g.end for g in got_rows):.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
