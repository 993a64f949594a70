"""`python app.py --mcp` (or TEXTCLF_MCP=1): the API endpoints as MCP tools, listed and called over real HTTP with the
`mcp` client, and on a shared server the tools check ownership exactly like the API."""
from __future__ import annotations

import ast
import asyncio
import threading
from pathlib import Path

import pytest

from tests import fake_runs
from tests.fixtures_app import start_app, stop_app

pytestmark = pytest.mark.slow
TOOLS = {"api_predict", "api_train", "api_status", "api_stop", "api_resume", "api_runs"}
EVENTS = [{"type": "started", "total_steps": 4, "num_train": 8, "time": 1.0},
          {"type": "eval", "step": 4, "epoch": 1.0, "loss": 0.5, "accuracy": 0.75, "f1_macro": 0.7, "time": 2.0},
          {"type": "finished", "message": "Training finished.", "time": 3.0}]


def mcp_session(url: str, *calls: tuple[str, dict]) -> tuple[list[str], list[tuple[bool, str]]]:
    """List the tools at url's MCP endpoint, then make each (tool, arguments) call: -> (tool names, [(is_error,
    text)]). In a thread of its own: a browser test's session can hold the main thread's event loop."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def talk():
        async with streamable_http_client(url + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                names = [tool.name for tool in (await session.list_tools()).tools]
                results = []
                for name, arguments in calls:
                    result = await session.call_tool(name, arguments)
                    results.append((bool(result.isError), " ".join(c.text for c in result.content
                                                                   if getattr(c, "text", None))))
                return names, results

    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(value=asyncio.run(talk())))
    thread.start()
    thread.join(timeout=180)
    assert "value" in out, "the MCP session did not finish"
    return out["value"]


def server(tmp_path: Path, name: str, extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()):
    runs_dir = tmp_path / "runs"
    fake_runs.fake_run(runs_dir, "r-someone", "k:someone", EVENTS, "finished")
    return start_app(runs_dir, tmp_path / f"{name}.log", extra_env=extra_env, args=args)


def test_app_with_mcp_flag_serves_the_api_endpoints_as_tools(tmp_path):
    proc, url = server(tmp_path, "mcp-own", args=("--mcp",))
    try:
        names, [(status_error, status_text), (runs_error, runs_text)] = mcp_session(
            url, ("api_status", {"run_id": "r-someone", "key": ""}), ("api_runs", {"key": ""}))
    finally:
        stop_app(proc)
    assert set(names) == TOOLS and len(names) == len(TOOLS)
    # Gradio's MCP server writes a returned dict or list as Python's repr.
    # Gradio's MCP server writes a returned dict or list as Python's repr.
    assert not status_error and ast.literal_eval(status_text)["state"] == "finished"  # on your own machine, every run
    assert not runs_error and [r["run_id"] for r in ast.literal_eval(runs_text)] == ["r-someone"]


def test_on_a_shared_server_the_tools_obey_the_owner_keys(tmp_path):
    proc, url = server(tmp_path, "mcp-space", extra_env={"SPACE_ID": "someone/classifier-studio", "TEXTCLF_MCP": "1"})
    try:
        names, [(status_error, status_text), (runs_error, runs_text)] = mcp_session(
            url, ("api_status", {"run_id": "r-someone", "key": ""}), ("api_runs", {"key": ""}))
    finally:
        stop_app(proc)
    assert set(names) == TOOLS  # (on a real Space, SYSTEM=spaces, Gradio prefixes each with the Space's name)
    assert status_error and status_text.endswith("There is no run 'r-someone'.")  # exactly like the API says
    assert not runs_error and ast.literal_eval(runs_text) == []


def test_mcp_is_off_unless_asked_for(monkeypatch, tmp_path):
    monkeypatch.setenv("TEXTCLF_RUNS_DIR", str(tmp_path))  # importing app builds the page on a runs folder
    monkeypatch.delenv("TEXTCLF_MCP", raising=False)
    from app import mcp_wanted

    assert not mcp_wanted([]) and mcp_wanted(["--mcp"])
    monkeypatch.setenv("TEXTCLF_MCP", "1")
    assert mcp_wanted([])
