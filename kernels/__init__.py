"""xfront.kernels: a library of kernels written once in xfront (installed as ``xfront.kernels``)."""
