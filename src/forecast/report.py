"""``python -m forecast.report <sweep dir>``: rebuild a sweep's summary and report (reporting.sweep.rebuild)."""

import sys

from forecast.reporting.sweep.rebuild import main

if __name__ == "__main__":
    sys.exit(main())
