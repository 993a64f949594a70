"""`python -m core.train <run_dir> [--resume]`: runs core/engine/job.py."""
import sys

from core.engine.job import main

sys.exit(main())
