"""X's weighted text length (twitter-text-parser), imported in one place."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # twitter-text-parser 3.0 reads its emoji table through pkg_resources, which setuptools
    # deprecates with a UserWarning on import; the table it reads is unaffected.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    from twitter_text import parse_tweet  # type: ignore[import-untyped]

__all__ = ["parse_tweet"]
