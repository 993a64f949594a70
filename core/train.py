"""The training job's command: `python -m core.train <run_dir> [--resume]` (see core/engine/job.py)."""
import sys

from core.engine.job import main

if __name__ == "__main__":
    sys.exit(main())
