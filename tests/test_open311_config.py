"""The open311 block of channels.yaml, as ``junbridge check`` reads it to an admin."""

from __future__ import annotations

from pathlib import Path

from test_check import check, folder

__all__ = ["folder"]  # the fixture, shared with test_check

BLOCK = """open311:
  api_keys:
    - name: fixmystreet
      key: {$env: OPEN311_KEY_FMS}"""


def with_open311(*changes: tuple[str, str], args: tuple[str, ...] = ()) -> tuple[int, str, int]:
    """``junbridge check`` on Jun's file with the open311 block, then ``changes``."""
    block = BLOCK
    for old, new in changes:
        block = block.replace(old, new)
    code, out, line = check(
        ("    menu_file: menu.yaml", "    menu_file: menu.yaml\n" + block), args=args
    )
    return code, out, line + 1  # the line of "open311:"


def test_the_keys_are_listed_and_an_unset_one_is_a_warning(folder: Path, monkeypatch) -> None:
    monkeypatch.delenv("OPEN311_KEY_FMS", raising=False)
    code, out, line = with_open311()
    assert code == 0, out
    assert "Open311: /open311/v2/, API keys: fixmystreet" in out
    assert (
        f"warning: channels.yaml:{line + 3}: open311.api_keys.0.key: environment variable "
        "OPEN311_KEY_FMS is not set — the key is refused"
    ) in out
    code, _, _ = with_open311(args=("--strict",))
    assert code == 1
    monkeypatch.setenv("OPEN311_KEY_FMS", "k")
    code, out, _ = with_open311()
    assert code == 0 and "OPEN311_KEY_FMS" not in out


def test_a_misspelled_key_in_the_block_suggests_the_right_one(folder: Path) -> None:
    code, out, line = with_open311(("  api_keys:", "  api_key:"))
    assert code == 1
    assert (
        f"channels.yaml:{line + 1}: open311.api_key: unknown key (did you mean 'api_keys'?)" in out
    )


def test_an_inline_key_is_refused_without_echoing_it(folder: Path) -> None:
    code, out, line = with_open311(("{$env: OPEN311_KEY_FMS}", "fms-0123456789"))
    assert code == 1
    assert (
        f"channels.yaml:{line + 3}: open311.api_keys.0.key: write secrets as {{$env: NAME}}, "
        "not inline"
    ) in out
    assert "fms-0123456789" not in out


def test_two_keys_with_one_name(folder: Path) -> None:
    second = "\n    - name: fixmystreet\n      key: {$env: OPEN311_KEY_OTHER}"
    code, out, line = with_open311(
        ("key: {$env: OPEN311_KEY_FMS}", "key: {$env: OPEN311_KEY_FMS}" + second)
    )
    assert code == 1
    assert (
        f"channels.yaml:{line + 4}: open311.api_keys.1.name: 'fixmystreet' names another key too"
    ) in out


def test_a_misspelled_block_name(folder: Path) -> None:
    code, out, line = with_open311(("open311:", "open_311:"))
    assert code == 1
    assert f"channels.yaml:{line}: open_311: unknown key (did you mean 'open311'?)" in out
