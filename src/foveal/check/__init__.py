"""`foveal check`: a health report of a data set before any training (unreadable files, duplicates and leaks between
splits, class balance, sizes, boxes) and, from a model's or out-of-fold probabilities, the likely label errors."""
