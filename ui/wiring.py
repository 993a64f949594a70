"""Handlers answer by name; Gradio gets its documented dict keyed by component.

A handler returns `{"status": …, "baseline": …}` with the names its tab's `render()` gives its components, leaving
out what does not change. `keyed(fn, outputs)` turns that into `{component: value}` for the event, so adding an output to a
handler never renumbers anything, and tests call the handler without a page and look values up by name.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Mapping

import gradio as gr


def keyed(fn: Callable[..., dict[str, Any]], outputs: Mapping[str, Any]) -> Callable[..., dict[Any, Any]]:
    """fn's {name: value} as {component: value}. A name outside `outputs` is a wiring mistake and raises."""

    @functools.wraps(fn)  # the signature stays fn's: Gradio reads it for gr.Request, gr.SelectData and the like
    def run(*args: Any, **kwargs: Any) -> dict[Any, Any]:
        named = fn(*args, **kwargs)
        unknown = sorted(set(named) - set(outputs))
        if unknown:
            raise KeyError(f"{fn.__name__} answered {unknown}, which its event does not output")
        if not named:  # Gradio would read an empty dict as one value, not as "nothing changes"
            return {component: gr.skip() for component in outputs.values()}
        return {outputs[name]: value for name, value in named.items()}

    return run


def pick(components: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """The named components, as the outputs of one event."""
    return {name: components[name] for name in names}
