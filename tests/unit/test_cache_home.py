"""Where the caches live when the environment gives no usable home directory."""

from __future__ import annotations

import pwd
from pathlib import Path

import pytest

from composer.cache.index import cache_base, cache_home
from composer.errors import InputError
from composer.fetch import cache_root


def _no_passwd_entry(uid: int) -> pwd.struct_passwd:
    raise KeyError(f"getpwuid(): uid not found: {uid}")


def test_home_unset_and_no_passwd_entry_means_no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """os.path.expanduser("~") then returns "~": that must not become ./~/.cache."""
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("COMPOSER_CACHE", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", _no_passwd_entry)
    assert cache_base() is None
    assert cache_home() is None
    with pytest.raises(InputError, match="HOME is unset"):
        cache_root()


def test_a_relative_xdg_cache_home_is_ignored(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("COMPOSER_CACHE", raising=False)
    assert cache_base() == tmp_path / ".cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_home() == tmp_path / "xdg" / "composer"
