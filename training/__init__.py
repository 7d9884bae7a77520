"""imageauth's training pipeline: one module per DVC stage, each runnable as `python -m training.<stage>`."""
