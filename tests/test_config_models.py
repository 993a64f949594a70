"""TrainConfig validation and the base-model resolver."""
import threading
from pathlib import Path

import pytest

from core.config import DEFAULT_MODEL, TrainConfig, auto_learning_rate
from core.errors import ModelError
from core.models import MODEL_CHOICES, model_max_length, resolve_model


def test_default_config_is_valid_and_round_trips(tmp_path):
    config = TrainConfig(data_path="reviews.csv")
    assert config.validate() == []
    config.save(tmp_path / "config.json")
    assert TrainConfig.load(tmp_path / "config.json") == config


def test_every_field_has_help_text():
    import dataclasses

    assert all(f.metadata.get("help") for f in dataclasses.fields(TrainConfig))


@pytest.mark.parametrize("changes, message", [
    ({"data_path": ""}, "Choose a data file to train on."),
    ({"epochs": 0}, "Epochs must be more than 0 and at most 100."),
    ({"batch_size": -1}, "Batch size must be between 0 (automatic) and 1024."),
    ({"batch_size": 2048}, "Batch size must be between 0 (automatic) and 1024."),
    ({"max_length": 4}, "Max length must be 0 (automatic) or between 8 and 8192 tokens."),
    ({"val_share": 0.9}, "Validation share must be between 0.01 and 0.5."),
    ({"learning_rate": -1.0}, "Learning rate must be between 0 (automatic) and 1."),
    ({"warmup_ratio": 1.5}, "Warm-up ratio must be at least 0 and below 1."),
    ({"early_stopping_patience": -1}, "Early-stopping patience must be 0 (off) or more."),
    ({"seed": -1}, "The seed must be a whole number from 0 to 4294967295."),
    ({"seed": 2**40}, "The seed must be a whole number from 0 to 4294967295."),  # numpy refuses it in the child
    ({"seed": 1.5}, "The seed must be a whole number from 0 to 4294967295."),
])
def test_invalid_settings_get_readable_messages(changes, message):
    assert TrainConfig(data_path="x.csv").replace(**changes).validate() == [message]


def test_auto_learning_rate_scales_with_model_size():
    assert auto_learning_rate(22_000_000) == 1e-4
    assert auto_learning_rate(110_000_000) == 5e-5
    assert auto_learning_rate(350_000_000) == 2e-5


def test_default_model_resolves_to_the_packaged_folder():
    path = Path(resolve_model(DEFAULT_MODEL))
    assert (path / "config.json").exists() and (path / "tokenizer.json").exists()
    assert MODEL_CHOICES[0][1] == DEFAULT_MODEL
    assert resolve_model("") == str(path)


def test_local_folder_resolves(tiny_model_dir):
    assert resolve_model(tiny_model_dir) == str(Path(tiny_model_dir).resolve())


def test_missing_folder_message():
    with pytest.raises(ModelError) as err:
        resolve_model("./no-such-model-folder")
    assert err.value.message == "The folder './no-such-model-folder' does not exist."


def test_folder_without_a_model_message(tmp_path):
    with pytest.raises(ModelError) as err:
        resolve_model(str(tmp_path))
    assert err.value.message == f"The folder '{tmp_path}' does not contain a saved model (config.json is missing)."


def test_folder_without_weights_or_tokenizer_message(tmp_path, tiny_model_dir):
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(tiny_model_dir, folder)
    assert resolve_model(str(folder)) == str(folder.resolve())
    (folder / "tokenizer.json").unlink()
    (folder / "vocab.txt").unlink(missing_ok=True)
    with pytest.raises(ModelError) as err:
        resolve_model(str(folder))
    assert err.value.message == (f"The folder '{folder}' has no tokenizer (tokenizer.json or vocab.txt is missing): "
                                 "save the tokenizer into the same folder as the model.")
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelError) as err:
        resolve_model(str(folder))
    assert err.value.message == (f"The folder '{folder}' has no model weights "
                                 "(model.safetensors or pytorch_model.bin is missing).")


def test_hub_id_offline_fails_fast_with_one_sentence(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    outcome = {}

    def attempt():
        try:
            resolve_model("google-bert/bert-base-uncased")
        except ModelError as exc:
            outcome["message"] = exc.message

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=30)  # a hang would be the bug; a generous bound, not a speed target
    assert outcome.get("message") == (
        "The model 'google-bert/bert-base-uncased' is not downloaded and the app is offline: "
        "choose the offline default model or a local folder."
    )


def test_hub_id_without_network_when_online_mode(monkeypatch):
    """With HF_HUB_OFFLINE unset and no route to the Hub, the user still gets one sentence, not a hang."""
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def unreachable(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(huggingface_hub, "model_info", unreachable)
    with pytest.raises(ModelError) as err:
        resolve_model("someone/some-model")
    assert err.value.message == (
        "Could not reach the Hugging Face Hub to download 'someone/some-model' (no internet connection?): "
        "choose the offline default model or a local folder."
    )


def test_model_max_length_ignores_the_tokenizer_sentinel():
    class Tok:
        model_max_length = int(1e30)

    class Cfg:
        max_position_embeddings = 514
        model_type = "roberta"

    assert model_max_length(Tok(), Cfg()) == 512
    assert model_max_length(Tok()) == 512
