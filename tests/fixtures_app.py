"""Fixtures that start the real app server (a subprocess, offline, its own runs folder) and a headless Chromium.

Reusable by any test: `app_url` (the server's base URL), `app_runs_dir` (its TEXTCLF_RUNS_DIR), `browser_page`
(a fresh Playwright page already on the app), `artifacts_dir` (test-artifacts/, git-ignored).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("TEXTCLF_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
STARTUP_SECONDS = float(os.environ.get("TEXTCLF_APP_STARTUP_SECONDS", "180"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(runs_dir: Path, log_path: Path, port: int | None = None,
              extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    """Start `python app.py [args]` on a free port; returns (process, base URL) once the page answers. `extra_env`
    (e.g. SPACE_ID) is set after the defaults."""
    port = port or free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "TEXTCLF_RUNS_DIR": str(runs_dir),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("SPACE_ID", None)
    env.update(extra_env or {})
    log = open(log_path, "ab")
    proc = subprocess.Popen([sys.executable, "app.py", *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + STARTUP_SECONDS
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}:\n{log_path.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(url + "config", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    stop_app(proc)
    raise RuntimeError(f"app.py did not answer within {STARTUP_SECONDS:.0f}s:\n{log_path.read_text(errors='replace')[-4000:]}")


def stop_app(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def start_from_train_step(page, model: str, epochs: int = 1) -> None:
    """On the Train step with data ready: type a model in the model box, set the epochs, press Start."""
    page.click("#tc-data-next")
    model_box = page.locator("#tc-model input")
    model_box.fill(model)
    model_box.press("Enter")
    epochs_box = page.locator("#tc-epochs input[type=number]")
    epochs_box.fill(str(epochs))
    epochs_box.press("Enter")
    page.wait_for_selector("#tc-start:not([disabled])")
    page.click("#tc-start")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    return out


@pytest.fixture(scope="session")
def app_runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("app-runs")


@pytest.fixture(scope="session")
def app_server(app_runs_dir: Path, artifacts_dir: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    proc, url = start_app(app_runs_dir, artifacts_dir / "app-server.log")
    try:
        yield proc, url
    finally:
        stop_app(proc)


@pytest.fixture(scope="session")
def app_url(app_server: tuple[subprocess.Popen, str]) -> str:
    return app_server[1]


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set TEXTCLF_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture()
def browser_page(chromium, app_url: str) -> Iterator[object]:
    """A fresh browser context (its own localStorage, i.e. its own session) with the app loaded."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app_url, wait_until="domcontentloaded")
    page.wait_for_selector(".gradio-container", timeout=60_000)
    try:
        yield page
    finally:
        context.close()
