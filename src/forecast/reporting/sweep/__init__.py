"""A sweep's summary and report: the jobs collected, the claims judged, the sections and their plots."""
