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


def is_disk_full(exc: BaseException) -> bool:
    """A write failed for lack of space or quota: ENOSPC / EDQUOT, or the same error in the text of an exception
    that is no OSError (safetensors reports `IoError(Os { code: 28, kind: StorageFull, ... })`)."""
    import errno

    seen: BaseException | None = exc
    for _ in range(8):  # the exception and what caused it
        if seen is None:
            return False
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(sign in str(seen) for sign in ("No space left on device", "Disk quota exceeded", "StorageFull",
                                              "QuotaExceeded")):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
