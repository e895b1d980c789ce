"""`enrolld enroll DIR`: a folder of photos through the one enrollment path.

    DIR/<name>/*.jpg    one person per folder, named after it (the person registry)
    DIR/*.jpg           flat files: each photo its own new person, unnamed

A photo that is refused (no face, quality) is reported with its reasons and the run goes on;
the set is created when it does not exist yet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import EnrolldError, ImageError, NoFaceError, QualityError
from .store.errors import InvalidArgumentError
from .vision.decode import IMAGE_SUFFIXES

log = logging.getLogger(__name__)


@dataclass
class FolderReport:
    enrolled: list[dict] = field(default_factory=list)  # {"file", "name", "person_id", "face_id"}
    refused: list[dict] = field(default_factory=list)  # {"file", "reasons"}

    def as_dict(self) -> dict:
        return {"enrolled": len(self.enrolled), "refused": len(self.refused),
                "refusals": self.refused, "faces": self.enrolled}


def photos_by_person(folder: Path) -> list[tuple[str | None, Path]]:
    """(person name or None, photo) in a stable order: named folders first, then flat files."""
    if not folder.is_dir():
        raise EnrolldError(f"{folder}: not a folder")
    named = [(d.name, p) for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith(".")
             for p in sorted(d.iterdir()) if _is_photo(p)]
    flat = [(None, p) for p in sorted(folder.iterdir()) if _is_photo(p)]
    return named + flat


def _is_photo(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def enroll_folder(enrollment, store, folder: Path, face_set: str, *,
                  progress: Callable[[int, int, Path], None] | None = None) -> FolderReport:
    photos = photos_by_person(folder)
    try:
        store.face_set(face_set)
    except EnrolldError:
        store.create_face_set(face_set)
    report = FolderReport()
    for done, (name, photo) in enumerate(photos, 1):
        if progress:
            progress(done, len(photos), photo)
        try:
            # The registry's person of that name; the first photo enrolled makes a new one.
            [record] = enrollment.enroll_photo(face_set, photo.read_bytes(), name=name, source="cli")
        except InvalidArgumentError as e:  # e.g. a folder name that cannot be a person's name
            report.refused.append({"file": str(photo.relative_to(folder)), "reasons": [f"invalid_{e.field or 'argument'}"]})
            continue
        except (NoFaceError, QualityError, ImageError) as e:
            reasons = list(getattr(e, "reasons", ())) or [getattr(e, "reason", "no_face")]
            report.refused.append({"file": str(photo.relative_to(folder)), "reasons": reasons})
            continue
        except OSError as e:
            report.refused.append({"file": str(photo.relative_to(folder)), "reasons": ["unreadable_file"]})
            log.warning("%s: %s", photo, e)
            continue
        report.enrolled.append({"file": str(photo.relative_to(folder)), "name": name,
                                "person_id": str(record.person_id), "face_id": str(record.face_id)})
    return report

