#!/usr/bin/env python3
"""Train, check and describe the specdec model family: the one command-line entry.

The code lives in the `specdec_train` package beside this file (see its `__init__` for the
sub-commands); `train.py <sub-command> --help` describes each.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from specdec_train.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
