"""Named exceptions of the face store. The HTTP layer maps each to both dialects' codes."""

from __future__ import annotations

from ..errors import EnrolldError


class StoreError(EnrolldError):
    """Base of the store's errors."""


class InvalidArgumentError(StoreError, ValueError):
    """A name, field, value or filter the store cannot accept; `field` names the culprit."""

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.field = field


class FaceSetExistsError(StoreError):
    def __init__(self, name: str):
        super().__init__(f"face set {name!r} already exists")
        self.name = name


class FaceSetNotFoundError(StoreError):
    def __init__(self, name: str):
        super().__init__(f"face set {name!r} does not exist")
        self.name = name


class FaceSetLimitError(StoreError):
    """The appliance already holds `store.max_face_sets` face sets."""


class CapacityError(StoreError):
    """The face set is full."""


class FaceNotFoundError(StoreError):
    """No face matches the given face_id (or selector)."""


class PersonNotFoundError(FaceNotFoundError):
    """No name and no face for this person id."""


class UnknownFieldError(InvalidArgumentError):
    """An external field that the face set did not declare."""


class UnsupportedSortError(InvalidArgumentError):
    """A sort on a field that cannot be sorted on."""


class ModelMismatchError(StoreError):
    """The face set holds embeddings made by another model: they cannot be compared."""

    def __init__(self, face_set: str, stored: list[str], current: str):
        super().__init__(
            f"face set {face_set!r} holds faces embedded by model {', '.join(stored)}; this appliance "
            f"embeds with {current}: delete and re-enroll those faces before searching"
        )
        self.stored = stored
        self.current = current


class StorageFullError(StoreError):
    """The state directory has no room left (SQLITE_FULL): nothing was written. Writes work
    again, without a restart, once space is freed."""

    def __init__(self, message: str = "storage full: the appliance's state directory has no space left; "
                 "nothing was written. Free space and retry"):
        super().__init__(message)
