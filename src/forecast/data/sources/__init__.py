"""Where prices come from: the shipped snapshot and universe, the cache, Yahoo Finance, a user's CSV or folder,
and the choice between them (``load``)."""
