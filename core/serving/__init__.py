"""A trained run at work: load it once, predict one text or a whole file, the Evaluate views and plots."""
