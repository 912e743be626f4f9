"""The fast CPU path: hand-written BPTT ``layers`` (GRU, RNN) and ``lstm``, their C++ step loops (``kernels.cpp``,
``lstm.cpp``; the minimal cells' fused loop in ``scan.cpp``), compiled by ``build``, and the TorchScript fallback
(``script``)."""
