"""A run directory (`RunDir`, the only code that knows its layout), its events and their fold, who may open it, launching the training process and the per-device lock."""
