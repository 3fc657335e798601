"""``python -m bench``: the same as ``bench/run_all.py`` (every benchmark, then the doc)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_all import main

sys.exit(main())
