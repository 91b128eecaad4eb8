"""When may a changed config file be applied? A pure decision, fed stamps and times.

Theory of operation: a file being written in several steps (an editor saving twice, a script
appending, ``scp`` in progress) passes through versions nobody meant to run; applying one of
them made a third of requests 404 while half a file was in force. So a version is applied only
after it has stayed the same — modification time, size *and* content hash — for ``settle``
seconds of consecutive looks. Any change restarts the wait; a missing file (the moment of an
atomic rename, or a deletion) is not a version at all and changes nothing. Once a version has
been tried, applied or refused as invalid, it is never tried again: a bad file is reported once,
not at every look, and the next edit starts over.

Looks happen wherever the caller reads the file (:mod:`meshkit.gateway.reloader`); time comes
in as an argument, so tests drive this with a fake clock.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

__all__ = ["FileStamp", "SettleGate", "Verdict"]


@dataclass(frozen=True, slots=True)
class FileStamp:
    """What identifies one version of a file."""

    mtime_ns: int
    size: int
    digest: str

    @classmethod
    def of(cls, data: bytes, *, mtime_ns: int) -> FileStamp:
        return cls(mtime_ns=mtime_ns, size=len(data), digest=hashlib.sha256(data).hexdigest())


class Verdict(enum.Enum):
    IDLE = "idle"  # the file is the version already tried: nothing to do
    WAIT = "wait"  # a new version, not yet unchanged for the settling interval
    APPLY = "apply"  # a new version, unchanged for the settling interval: try it now


class SettleGate:
    """Says, look by look, whether the file's current version should be applied."""

    def __init__(self, settle: float, tried: FileStamp | None = None) -> None:
        self.settle = settle
        self.tried = tried  # the version last applied or refused
        self._candidate: FileStamp | None = None
        self._since = 0.0

    def observe(self, stamp: FileStamp | None, now: float) -> Verdict:
        """One look at the file: its stamp (``None`` when it is missing) at time ``now``."""
        if stamp is None or stamp == self.tried:
            self._candidate = None
            return Verdict.IDLE
        if stamp != self._candidate:
            self._candidate, self._since = stamp, now
        return Verdict.APPLY if now - self._since >= self.settle else Verdict.WAIT

    def tried_version(self, stamp: FileStamp) -> None:
        """``stamp`` was applied or refused (by a look or by SIGHUP): leave it alone now."""
        self.tried = stamp
        self._candidate = None
