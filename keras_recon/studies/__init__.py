"""The papers' studies behind `keras-recon optimizers | balance | robust`.

Each module has a `run(args)` taking the parsed command-line flags and
writing a run folder (`report.md`, `metrics.json`, PNG grids).
"""
