"""``python -m forecast.report <sweep dir>``: rebuild a sweep's summary and report (see forecast.reporting.rebuild)."""

import sys

from forecast.reporting.rebuild import main

if __name__ == "__main__":
    sys.exit(main())
