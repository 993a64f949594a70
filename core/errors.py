"""The one exception type that carries a message meant for the person using the app."""


class UserError(Exception):
    """Something the user can fix: the message is shown as-is in the UI and the CLI (no traceback)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DataError(UserError):
    """The uploaded table cannot be used for training (unreadable, no labels, one class, ...)."""


class ModelError(UserError):
    """The chosen base model cannot be loaded (offline, unknown id, broken folder, ...)."""
