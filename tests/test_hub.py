"""Push logic at the huggingface_hub boundary: right calls in the right order, errors as messages, no token leaks."""
from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any

import httpx2
import pytest
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError

from core.publish import hub, modelcard
from core.errors import UserError
from tests.test_predict import make_run_dir

TOKEN = "hf_SECRETtoken1234567890abcdef"


class FakeApi:
    """Records every call; `fail` maps a method name to the exception it raises."""

    def __init__(self, fail: dict[str, BaseException] | None = None, user: str = "alice") -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail or {}
        self.user = user
        self.uploaded: dict[str, bytes] = {}

    def _call(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))
        if name in self.fail:
            raise self.fail[name]

    def whoami(self, token: str | None = None) -> dict[str, Any]:
        self._call("whoami", token=token)
        return {"name": self.user, "type": "user"}

    def create_repo(self, repo_id: str, **kwargs: Any) -> str:
        self._call("create_repo", repo_id=repo_id, **kwargs)
        return f"https://huggingface.co/{repo_id}"

    def auth_check(self, repo_id: str, **kwargs: Any) -> None:
        self._call("auth_check", repo_id=repo_id, **kwargs)

    def upload_folder(self, **kwargs: Any) -> None:
        self._call("upload_folder", **kwargs)
        folder = Path(kwargs["folder_path"])
        # What upload_folder would send, given its ignore_patterns.
        self.uploaded = {p.relative_to(folder).as_posix(): p.read_bytes() for p in modelcard.export_files(folder)}

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def http_error(status: int, cls: type[HfHubHTTPError] = HfHubHTTPError) -> HfHubHTTPError:
    request = httpx2.Request("POST", "https://huggingface.co/api/repos/create", headers={"authorization": f"Bearer {TOKEN}"})
    return cls(f"{status} Client Error", response=httpx2.Response(status, request=request))


@pytest.fixture()
def run_dir(tmp_path: Path, tiny_model_dir: str) -> Path:
    run = make_run_dir(tmp_path, tiny_model_dir, name="Support tickets", predictions=False)
    (run / "model" / "training_args.bin").write_bytes(b"x")
    return run


@pytest.fixture(autouse=True)
def no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)


def test_token_order(monkeypatch: pytest.MonkeyPatch) -> None:
    assert hub.resolve_token(None, None) is None
    monkeypatch.setenv("HF_TOKEN", "env")
    assert hub.resolve_token(None, None) == "env"
    assert hub.resolve_token(None, "oauth") == "oauth"
    assert hub.resolve_token(" typed ", "oauth") == "typed"
    assert hub.resolve_token("  ", "oauth") == "oauth"


def test_push_calls_the_hub_in_order_with_the_right_arguments(run_dir: Path) -> None:
    api = FakeApi()
    result = hub.push_to_hub(run_dir, repo_id="", private=True, token=TOKEN, api=api)
    assert result.repo_id == "alice/Support-tickets" and result.url == "https://huggingface.co/alice/Support-tickets"
    assert api.names() == ["whoami", "create_repo", "auth_check", "upload_folder"]
    assert api.calls[1][1] == {"repo_id": "alice/Support-tickets", "token": TOKEN, "private": True,
                               "repo_type": "model", "exist_ok": True}
    assert api.calls[2][1] == {"repo_id": "alice/Support-tickets", "repo_type": "model", "token": TOKEN, "write": True}
    upload = api.calls[3][1]
    assert upload["repo_id"] == "alice/Support-tickets" and upload["token"] == TOKEN
    assert Path(upload["folder_path"]) == run_dir / "model" and upload["repo_type"] == "model"
    assert "training_args.bin" in upload["ignore_patterns"]
    card = (run_dir / "model" / "README.md").read_text()
    assert 'pipeline("text-classification", model="alice/Support-tickets")' in card


def test_pushed_folder_is_exactly_the_downloaded_zip(run_dir: Path) -> None:
    api = FakeApi()
    hub.push_to_hub(run_dir, repo_id="team/tickets", private=False, token=TOKEN, api=api)
    with zipfile.ZipFile(modelcard.make_zip(run_dir)) as zf:
        zipped = {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist()}
    assert zipped == api.uploaded
    assert "training_args.bin" not in api.uploaded and "README.md" in api.uploaded


def test_repo_name_gets_the_user_namespace_and_is_validated(run_dir: Path) -> None:
    api = FakeApi()
    assert hub.push_to_hub(run_dir, repo_id="my-model", token=TOKEN, api=api).repo_id == "alice/my-model"
    # Checked as typed, before the token or the network: offline and without a token it still says what is wrong.
    with pytest.raises(UserError, match="^'bad name' is not a valid repository name: use letters, digits, "
                                        "'-', '_' or '.', like 'user/my-model'.$"):
        hub.push_to_hub(run_dir, repo_id="bad name", token="", api=FakeApi())


def test_oauth_token_is_used_when_nothing_is_typed(run_dir: Path) -> None:
    api = FakeApi()
    hub.push_to_hub(run_dir, token="", oauth_token="hf_oauth", api=api)
    assert {kw["token"] for _, kw in api.calls} == {"hf_oauth"}


def test_no_token_means_no_calls(run_dir: Path) -> None:
    api = FakeApi()
    with pytest.raises(UserError, match="^No Hugging Face token: paste a token with write "
                                        "access, or set HF_TOKEN.$"):
        hub.push_to_hub(run_dir, token=None, api=api)
    assert api.calls == []


@pytest.mark.parametrize("method, error, message", [
    ("whoami", http_error(401), "The Hugging Face token was rejected: check that it is correct and has not expired."),
    ("whoami", OfflineModeIsEnabled("offline"),
     "The Hugging Face Hub cannot be reached: the app runs offline (HF_HUB_OFFLINE is set)."),
    ("whoami", httpx2.ConnectError("Name or service not known"),
     "Could not reach the Hugging Face Hub: check the internet connection and try again."),
    ("create_repo", http_error(403), "This token cannot write to 'alice/tickets': use a token with write access to "
                                     "that account or organisation."),
    ("create_repo", http_error(409), "The name 'alice/tickets' is already taken by another repository type or user: "
                                     "choose another name."),
    ("auth_check", http_error(403), "This token cannot write to 'alice/tickets': use a token with write access to "
                                    "that account or organisation."),
    ("auth_check", http_error(404, RepositoryNotFoundError), "'alice/tickets' was not found or this token has no "
                                                             "access to it: check the name and the token's permissions."),
    ("upload_folder", http_error(500), "The Hugging Face Hub had a server error: try again in a few minutes."),
    ("upload_folder", RuntimeError(f"boom {TOKEN}"), "Pushing to the Hugging Face Hub failed (RuntimeError): the "
                                                     "model is still saved locally."),
])
def test_errors_become_one_sentence_and_nothing_is_uploaded_after_a_failed_check(
    run_dir: Path, method: str, error: BaseException, message: str
) -> None:
    api = FakeApi(fail={method: error})
    before = {p.name: p.read_bytes() for p in (run_dir / "model").iterdir() if p.name != "README.md"}
    with pytest.raises(UserError) as caught:
        hub.push_to_hub(run_dir, repo_id="tickets", token=TOKEN, api=api)
    assert caught.value.message == message
    assert TOKEN not in caught.value.message
    assert caught.value.__cause__ is None  # the original error (with its request headers) is not chained
    order = ["whoami", "create_repo", "auth_check", "upload_folder"]
    assert api.names() == order[: order.index(method) + 1]  # stops at the first failure
    after = {p.name: p.read_bytes() for p in (run_dir / "model").iterdir() if p.name != "README.md"}
    assert after == before  # the local model is never touched by a failed push


def test_token_is_in_no_file_and_no_log(run_dir: Path, caplog: pytest.LogCaptureFixture,
                                        capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("HF_TOKEN", TOKEN)  # also via the environment
    hub.push_to_hub(run_dir, token=None, api=FakeApi())
    with pytest.raises(UserError):
        hub.push_to_hub(run_dir, token=TOKEN, api=FakeApi(fail={"upload_folder": http_error(403)}))
    modelcard.make_zip(run_dir)
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    with zipfile.ZipFile(run_dir / "exports" / "Support-tickets.zip") as zf:
        assert all(TOKEN.encode() not in zf.read(n) for n in zf.namelist())
    out, err = capfd.readouterr()
    assert TOKEN not in out + err + caplog.text


def test_publish_tab_push_uses_the_oauth_token_and_shows_errors(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio as gr

    from ui import publish_tab
    from ui.context import RunOnScreen

    state = RunOnScreen(str(run_dir), "finished")
    api = FakeApi()
    monkeypatch.setattr(hub, "_api", lambda: api)
    oauth = gr.OAuthToken(token="hf_oauth_abc", scope="write-repos", expires_at=0)
    done = publish_tab.on_push(state, "", False, "", oauth)
    assert done == "✅ Pushed to [alice/Support-tickets](https://huggingface.co/alice/Support-tickets) (public)."
    assert {kw["token"] for _, kw in api.calls} == {"hf_oauth_abc"}

    monkeypatch.setattr(hub, "_api", lambda: FakeApi(fail={"create_repo": http_error(403)}))
    with pytest.warns(UserWarning):  # gr.Warning outside a request: the message still reaches the user
        failed = publish_tab.on_push(state, "tickets", True, TOKEN, None)
    assert failed == ("❌ This token cannot write to &#x27;alice/tickets&#x27;: use a token with write access to that "
                      "account or organisation.")  # the Markdown box shows the escaped quotes as quotes
    with pytest.warns(UserWarning):
        assert publish_tab.on_push(RunOnScreen(), "", True, TOKEN, None) == "❌ Train a model or open a run from the Runs tab first."


def test_real_huggingface_hub_offline_gives_the_offline_message(run_dir: Path) -> None:
    """No mock: the real HfApi under HF_HUB_OFFLINE=1 (set by conftest) fails fast with the offline sentence."""
    with pytest.raises(UserError) as caught:
        hub.push_to_hub(run_dir, token=TOKEN)
    assert caught.value.message == "The Hugging Face Hub cannot be reached: the app runs offline (HF_HUB_OFFLINE is set)."
    assert (run_dir / "model" / "model.safetensors").exists()


def test_the_no_token_message_mentions_sign_in_only_where_the_button_is(monkeypatch) -> None:
    from ui import publish_tab
    from ui.context import RunOnScreen

    for name in ("SPACE_ID", "SYSTEM", "OAUTH_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    assert publish_tab.no_token_message() == "No Hugging Face token: paste a token with write access, or set HF_TOKEN."
    monkeypatch.setenv("SPACE_ID", "someone/classifier-studio")
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("OAUTH_CLIENT_ID", "client-id")
    assert publish_tab.no_token_message() == (
        "No Hugging Face token: sign in with Hugging Face, paste a token with write access, or set HF_TOKEN.")
