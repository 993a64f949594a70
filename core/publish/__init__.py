"""Telling others about a model: the model card, the zip and the Hub push."""
