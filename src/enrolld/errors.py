"""Named exceptions. Library code raises these; the HTTP layer maps them to each
contract's error shape and the CLI to an exit code and a one-line message."""


class EnrolldError(Exception):
    """Base of every error enrolld raises on purpose."""


class ConfigError(EnrolldError):
    """The configuration file is missing, malformed, or has a bad or unknown key."""


class ModelError(EnrolldError):
    """A model file is missing, corrupt, or cannot be loaded."""


class AcceleratorError(EnrolldError):
    """An explicitly requested accelerator (Edge TPU, GPU) cannot be used. `short` is the
    cause alone, for the one-line log of `auto`; the message adds what to do about it."""

    def __init__(self, message: str, short: str = ""):
        super().__init__(message)
        self.short = short or message

    @classmethod
    def with_advice(cls, cause: str, advice: str) -> "AcceleratorError":
        return cls(f"{cause}: {advice}", short=cause)


class ImageError(EnrolldError):
    """The image bytes cannot become pixels. `reason` is a short machine-readable code:
    empty, not_an_image, unsupported_format, truncated, too_large, too_small."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class NoFaceError(EnrolldError):
    """No face was found where one was required."""


class QualityError(EnrolldError):
    """A face was found but failed the quality gate; `reasons` names each failure."""

    def __init__(self, reasons: tuple[str, ...], message: str = ""):
        super().__init__(message or "face refused by the quality gate: " + ", ".join(reasons))
        self.reasons = tuple(reasons)


class BusyError(EnrolldError):
    """The vision worker's queue is full or a job timed out: try again later."""
