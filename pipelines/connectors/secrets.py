"""A connector's credentials: from the environment or a secrets file, never from the record store.

``NEEDLE_CONNECTOR_<NAME>_<KEY>`` (the connector's name upper-cased, dashes as underscores) sets one
credential, e.g. ``NEEDLE_CONNECTOR_WIKI_API_TOKEN`` gives the ``wiki`` connector its ``api_token``. The
same lines may be kept in a secrets file, ``NEEDLE_SECRETS_FILE`` or ``<data_dir>/secrets.env``, which
must be readable by its owner only (mode 0600); the environment wins over the file. Values are handed to
the connector and nowhere else: they are never stored, logged, traced or printed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from pipelines.connectors.base import ConnectorError

PREFIX = "NEEDLE_CONNECTOR_"
FILE_VARIABLE = "NEEDLE_SECRETS_FILE"


def variable_prefix(connector: str) -> str:
    """``hr-share`` -> ``NEEDLE_CONNECTOR_HR_SHARE_``."""
    return PREFIX + connector.upper().replace("-", "_") + "_"


def secrets_file(data_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    named = environ.get(FILE_VARIABLE)
    return Path(named) if named else data_dir / "secrets.env"


def _read_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (``#`` comments, blank lines, optional quotes). A file others may read is
    refused: a token in it would not be secret."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConnectorError(
            f"the secrets file {path} may be read by other users; run `chmod 600 {path}` and sync again"
        )
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def connector_secrets(
    connector: str, data_dir: Path, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The credentials of ``connector``, keyed by lower-case key (``api_token``).

    :raises ConnectorError: the secrets file may be read by others.
    """
    environ = os.environ if environ is None else environ
    prefix = variable_prefix(connector)
    merged = {**_read_file(secrets_file(data_dir, environ)), **environ}
    return {
        key[len(prefix) :].lower(): value for key, value in merged.items() if key.startswith(prefix) and value
    }
