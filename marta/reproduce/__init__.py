"""`marta reproduce` and `marta report`: the paper's experiments as presets, run and reported."""
