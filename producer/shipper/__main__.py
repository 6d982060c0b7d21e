"""``python -m tracklog.shipper <spool dir>``: the shipper process (tracklog.shipper.process)."""

from __future__ import annotations

import sys

from tracklog.shipper.process import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
