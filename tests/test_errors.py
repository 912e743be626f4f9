"""Errors that are not ours, translated into one line that names the resource."""

from __future__ import annotations

import errno

from forecast.errors import unexpected


def test_errors_that_are_not_ours_name_the_resource() -> None:
    assert unexpected(MemoryError()) == (
        "out of memory (MemoryError): lower model.hidden_size, model.num_layers, trainer.batch_size or window"
    )
    alloc = RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried "
                         "to allocate 2199023255552 bytes. Error code 12 (Cannot allocate memory)")  # fmt: skip
    assert unexpected(alloc).startswith("out of memory: 2,048.0 GiB asked for (RuntimeError): lower")
    full = OSError(errno.ENOSPC, "No space left on device", "outputs/x/forecasts.csv")
    assert unexpected(full) == (
        "disk full writing outputs/x/forecasts.csv: free space, or write elsewhere with hydra.run.dir=..."
    )
    assert unexpected(StopIteration()) == "unexpected StopIteration: "
