"""`foveal bench`: foveal against the plain PyTorch loop, in one process, on this machine (benchmarks/ holds the
longer ones)."""
