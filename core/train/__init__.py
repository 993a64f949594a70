"""`python -m core.train <run_dir> [--resume]`: the training job's command (the job is core/engine/job.py)."""
