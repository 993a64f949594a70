"""Training core: data, models, training runs, evaluation and publishing. Never imports gradio."""
