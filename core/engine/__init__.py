"""The training job (`python -m core.train <run_dir>`): Trainer set-up, callback, checkpoints, the token store, attention choice and the final files."""
