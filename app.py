"""Text Classifier Studio: `python app.py` serves the web app (http://127.0.0.1:7860 by default).

Honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT; binds 0.0.0.0 on Hugging Face Spaces (SPACE_ID is set).
`python app.py --mcp` (or TEXTCLF_MCP=1) also serves the API endpoints as MCP tools at /gradio_api/mcp/.
"""
from __future__ import annotations

import os
import sys

# Gradio's queue re-summarises up to its last 10,000 events with pandas after every single event (its monitoring
# page): under 50 concurrent /predict clients that was ~25 % of the server's CPU samples and grew with traffic.
# Summarise every 500 events, over the last 1,000.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "500")
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")

from core.runs.launcher import use_persistent_hub_cache  # noqa: E402

use_persistent_hub_cache()  # before anything imports huggingface_hub: on a Space with /data, models survive restarts

from core.runs import access  # noqa: E402
from core.serving.batcher import server_threads  # noqa: E402
from ui.layout import build  # noqa: E402
from ui.theme import CSS, theme  # noqa: E402

demo = build()


def mcp_wanted(argv: list[str] | None = None) -> bool:
    """MCP tools only when asked for: `--mcp`, or TEXTCLF_MCP=1 where the command line is not yours (a Space)."""
    argv = sys.argv[1:] if argv is None else argv
    return "--mcp" in argv or os.environ.get("TEXTCLF_MCP", "").strip().lower() in ("1", "true", "yes")


def launch_options(argv: list[str] | None = None) -> dict:
    on_spaces = bool(os.environ.get("SPACE_ID"))
    default_host = "0.0.0.0" if on_spaces else "127.0.0.1"
    return {
        "server_name": os.environ.get("GRADIO_SERVER_NAME", default_host),
        "server_port": int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        "theme": theme(),
        "css": CSS,
        "footer_links": ["api", "gradio", "settings"],
        "show_error": False,
        # Uploads past this size are refused by Gradio before they reach the disk (shared servers; see README).
        "max_file_size": access.upload_limit(),
        "max_threads": server_threads(),  # /predict's waiting callers each hold one (core/serving/batcher.py)
        # The tools call the same endpoint functions, so they check the same keys (README, Security and limits).
        # None leaves Gradio's own GRADIO_MCP_SERVER switch working.
        "mcp_server": True if mcp_wanted(argv) else None,
    }


if __name__ == "__main__":
    import threading

    os.umask(0o077)  # run folders, uploads and exports hold visitors' data: readable by this server's user only
    from core.runs import warm_child
    from ui.data_tab import warm_up

    threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
    warm_child.prepare()  # the first Start skips the training child's imports
    demo.queue(default_concurrency_limit=4, max_size=256)
    demo.launch(**launch_options())
