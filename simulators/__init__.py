"""Physics simulators: numpy/numba/scipy/torch only, no Lightning, no Hydra."""
