"""The bot's users, made through the public API like anyone's: signup or login, one API key.

Their random passwords and current API keys live in ``<data dir>/demo-bot.json`` (mode 0600,
written atomically), so a restart logs in as the same users instead of signing up new ones.
A stored key that still works is reused; otherwise the bot logs in, creates a key and revokes
every other key of that user, so restarts never pile up live keys.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from pathlib import Path

from exchange.client import Client, ExchangeError

log = logging.getLogger(__name__)

FILE_NAME = "demo-bot.json"


class IdentityError(Exception):
    """The bot cannot become its user (the name is someone else's, the password was lost)."""


class CredentialStore:
    """``{username: {password, apiKey, secret}}`` in one small JSON file only its owner reads."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def load(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise IdentityError(f"{self.path}: unreadable ({exc})") from None
        return data if isinstance(data, dict) else {}

    def save(self, username: str, entry: dict[str, str]) -> None:
        data = self.load()
        data[username] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)  # O_CREAT's mode applies only to a new file
        os.replace(tmp, self.path)


async def sign_in(client: Client, username: str, store: CredentialStore) -> None:
    """Make ``client`` sign every request as ``username`` with a working API key."""
    entry = store.load().get(username, {})
    if entry.get("apiKey") and entry.get("secret"):
        client.use_key(entry["apiKey"], entry["secret"])
        try:
            await client.balances()
            return
        except ExchangeError as exc:
            if exc.status != 401:
                raise
            log.info("demo bot: the stored API key of %s no longer works; making a new one", username)
        client.use_key("", "")  # back to the cookie session for what follows
    password = entry.get("password")
    if password is None:
        password = secrets.token_urlsafe(24)
        entry = {"password": password}
        store.save(username, entry)  # before signing up: a crash in between must not lose it
        await _signup(client, username, password)
    else:
        await _login(client, username, password)
    key = await _fresh_key(client)
    store.save(username, {"password": password, "apiKey": key["apiKey"], "secret": key["secret"]})
    client.use_key(key["apiKey"], key["secret"])


async def _signup(client: Client, username: str, password: str) -> None:
    try:
        await client.signup(username, password)
    except ExchangeError as exc:
        if exc.code == "USERNAME_TAKEN":
            raise IdentityError(f"{username} exists and its password is not in {FILE_NAME}") from None
        raise


async def _login(client: Client, username: str, password: str) -> None:
    try:
        await client.login(username, password)
    except ExchangeError as exc:
        if exc.status == 401:
            raise IdentityError(f"{username}: the password in {FILE_NAME} is refused") from None
        raise


async def _fresh_key(client: Client) -> dict[str, str]:
    """A new key; every older key of the user revoked; the cookie session ended."""
    old = await client.api_keys()
    key: dict[str, str] = await client.create_api_key()
    for item in old:
        with contextlib.suppress(ExchangeError):  # already revoked: fine
            await client.revoke_api_key(item["apiKey"])
    await client.logout()
    return key
