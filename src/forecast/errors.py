"""Errors a user can fix, the one check that raises them, and one-line messages for errors that are not ours.

The entry points print a :class:`ForecastError`'s message as one line and exit non-zero; :func:`compact_error`
and :func:`unexpected` give Hydra's compose errors and any other exception the same one-line form.
"""

from __future__ import annotations

import errno
import re


class ForecastError(Exception):
    """A failure with a one-line message that names the problem and the fix."""


class ConfigError(ForecastError):
    """A config value out of range or an impossible combination."""


class DataError(ForecastError):
    """Price data missing, unreadable, too short or invalid."""


class TrainingDiverged(ForecastError):
    """The loss became NaN or infinite during training."""


class PeerLost(ForecastError):
    """A process of a ``trainer.strategy=ddp`` run stopped, so the others cannot go on."""


class FolderTaken(ConfigError):
    """The run folder holds another run's results (completed, or running in a live process)."""


def require(ok: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``ok``: the one form of every config check."""
    if not ok:
        raise ConfigError(message)


def compact_error(exc: BaseException) -> str:
    """Return a one-line message for a Hydra/OmegaConf compose or override error."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    head = lines[0] if lines else type(exc).__name__
    if "Available options in" in str(exc):
        start = next(i for i, ln in enumerate(lines) if ln.startswith("Available options"))
        skip = ("Config search path", "provider=", "_")  # _base: the part a group's options extend, not an option
        options = [ln for ln in lines[start + 1 :] if not ln.startswith(skip)]
        return f"{head}: choose one of {', '.join(options)}"
    cause = exc.__cause__
    detail = str(cause).splitlines()[0].strip() if cause is not None and str(cause) else ""
    detail = detail or next((ln for ln in lines[1:] if ln.startswith(("Key ", "Value "))), "")
    if any(k in head for k in ("mismatched input", "extraneous input", "no viable alternative", "LexerNoViableAlt")):
        return (
            f"could not parse an override ({head}): quote values with special characters, e.g. 'ticker=\"^GSPC\"' "
            "(or type ticker=SP500 for the S&P 500 index)"
        )
    hint = " (python -m forecast --help lists every key)" if "not in" in detail else ""
    return f"{head.rstrip('.')}: {detail}{hint}" if detail else head


def unexpected(exc: BaseException) -> str:
    """Return one line for an error that is not a ForecastError, naming the resource when one ran out."""
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    if isinstance(exc, MemoryError) or "can't allocate memory" in first or "out of memory" in first.lower():
        asked = re.search(r"allocate (\d+) bytes", first)
        size = f": {int(asked.group(1)) / 2**30:,.1f} GiB asked for" if asked else ""
        return (
            f"out of memory{size} ({type(exc).__name__}): lower model.hidden_size, model.num_layers, "
            "trainer.batch_size or window"
        )
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full writing {exc.filename or 'a file'}: free space, or write elsewhere with hydra.run.dir=..."
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
        return f"cannot write {exc.filename or 'a file'} ({exc.strerror}): write elsewhere with hydra.run.dir=..."
    return f"unexpected {type(exc).__name__}: {first}"
