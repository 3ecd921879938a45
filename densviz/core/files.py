"""Files a user names: read only regular files of a bounded size, write only whole files into folders checked first.

An input path is looked at (``stat``) before a byte is read: a device
(``/dev/zero``), a pipe (which would block), a folder or a file over the
limit (a 30 GB sparse file) is refused with a sentence. An output folder is
created and tried with a scratch file before any work is done; every file is
written under a temporary name in its folder and renamed into place, so a
full disk or a failing write never leaves a half-written file under its name.
"""

from __future__ import annotations

import os
import stat
import tempfile
import uuid
from pathlib import Path

from densviz.core.errors import ConfigError, SurroundingsError
from densviz.core.units import format_bytes

__all__ = ["prepare_output_dir", "read_input_file", "write_atomic"]

_NAME_MAX = 255  # bytes in one path component on Linux, macOS and Windows file systems


def read_input_file(path: str | Path, what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``, checked before it is read.

    Raises:
        ConfigError: naming the file and what is wrong with it (missing, not a
            regular file, too large, unreadable).
    """
    p = Path(path)
    if not str(path).strip():
        raise ConfigError(what, str(path), "", message=f"The {what} file name is empty; name a file.")
    if "\x00" in str(path):
        raise ConfigError(what, str(path), "", message=f"The {what} file name holds a NUL character; name a file.")
    try:
        info = p.stat()
    except OSError as err:
        raise ConfigError(what, str(p), "", message=f"Cannot read the {what} file {p}: {err.strerror}.") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(
            what,
            str(p),
            "",
            message=f"The {what} file {p} is not a regular file (a folder, a device or a pipe); name a file.",
        )
    if info.st_size > max_bytes:
        raise ConfigError(
            what,
            str(p),
            "",
            message=f"The {what} file {p} is {format_bytes(info.st_size)}; at most {format_bytes(max_bytes)} is read.",
        )
    try:
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)  # a file that grew since stat() is still bounded
    except OSError as err:
        raise ConfigError(what, str(p), "", message=f"Cannot read the {what} file {p}: {err.strerror}.") from None
    if len(data) > max_bytes:
        raise ConfigError(what, str(p), "", message=f"The {what} file {p} is over {format_bytes(max_bytes)}.")
    return data


def prepare_output_dir(path: str | Path, flag: str = "out") -> Path:
    """Create the folder ``--out`` names and make sure a file can be written there, before any work.

    Raises:
        ConfigError: naming the folder and why nothing can be written there.
    """
    text = str(path)
    if not text.strip():
        raise ConfigError(flag, text, "", message=f"--{flag} is empty; name a folder to write into.")
    if "\x00" in text:
        raise ConfigError(flag, text, "", message=f"--{flag} holds a NUL character; name a folder to write into.")
    p = Path(text)
    too_long = [part for part in p.parts if len(part.encode()) > _NAME_MAX]
    if too_long:
        raise ConfigError(
            flag, text, "", message=f"--{flag}: a folder name is {len(too_long[0].encode())} bytes, over {_NAME_MAX}."
        )
    if p.exists() and not p.is_dir():
        raise ConfigError(flag, text, "", message=f"--{flag} {p} exists and is not a folder; name a folder.")
    try:
        p.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=p, prefix=".densviz-check-"):
            pass
    except OSError as err:
        raise ConfigError(flag, text, "", message=f"Cannot write into the folder {p}: {err.strerror}.") from None
    return p


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (a temporary name in the same folder, then a rename).

    Raises:
        SurroundingsError: the write failed (a full disk, an I/O error); no file
            is left under ``path`` or the temporary name.
    """
    tmp = path.parent / f".{path.name[:40]}.{uuid.uuid4().hex[:12]}.part"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask decides, as for any new file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise SurroundingsError(f"Could not write {path}: {err.strerror}; nothing was left under that name.") from None
