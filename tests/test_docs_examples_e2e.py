"""The end-to-end example in docs/testing_plugins.md runs as written."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "test_waste_on_telegram.py"


def _load():
    spec = importlib.util.spec_from_file_location("docs_example_waste_on_telegram", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def test_the_documented_telegram_example_passes(tmp_path, monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    await _load().test_a_missed_bin_reported_on_telegram_is_answered_there(tmp_path, monkeypatch)
