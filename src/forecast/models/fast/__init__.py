"""The fast GRU/RNN CPU path: hand-written BPTT ``layers``, their C++ step loops (``kernels.cpp``, compiled by
``build``) and the TorchScript fallback (``script``)."""
