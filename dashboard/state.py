"""Who is signed in, and reads cached per token.

The token lives in Streamlit's session state only (one browser session), is never written to
a log or the page, and is the only credential the dashboard uses: there is no service
account. Cached reads are keyed by a digest of the token, so one person's cache never answers
another's request, and every write clears them.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from dashboard.client import ApiError, DriftgateClient, Me
from dashboard.settings import DashboardSettings

CACHE_TTL_SECONDS = 15
PREFETCH_THREADS = 8
_TOKEN = "dg_token"
_ME = "dg_me"
_KIOSK = "dg_kiosk"
_CLIENT = "dg_client"


@dataclass(frozen=True)
class Session:
    """The signed-in person: their API client, identity, and whether writes are offered."""

    client: DriftgateClient
    me: Me
    api_url: str
    token_key: str
    kiosk: bool

    @property
    def can_review(self) -> bool:
        return not self.kiosk and self.me.can_review

    @property
    def can_produce(self) -> bool:
        return not self.kiosk and self.me.can_produce

    @property
    def is_admin(self) -> bool:
        return not self.kiosk and self.me.is_admin


def settings() -> DashboardSettings:
    return DashboardSettings()


def token_key(token: str) -> str:
    """A digest standing for the token in cache keys, so the secret is never a key."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def sign_in(token: str, *, kiosk: bool = False) -> Me:
    """Ask the API whose token this is; only a token it accepts is kept (ApiError otherwise)."""
    client = DriftgateClient(settings().api_url, token)
    try:
        me = client.me()
    finally:
        client.close()
    st.session_state[_TOKEN] = token
    st.session_state[_ME] = me
    st.session_state[_KIOSK] = kiosk
    return me


def sign_out() -> None:
    client = st.session_state.pop(_CLIENT, None)
    if client is not None:
        client.close()
    for key in (_TOKEN, _ME, _KIOSK):
        st.session_state.pop(key, None)


def _client(api_url: str, token: str) -> DriftgateClient:
    """One client per browser session, so its connections are kept alive across reruns."""
    client = st.session_state.get(_CLIENT)
    if client is None or client.base_url != api_url.rstrip("/") or client.token != token:
        if client is not None:
            client.close()
        client = DriftgateClient(api_url, token)
        st.session_state[_CLIENT] = client
    return client


def current() -> Session | None:
    """The signed-in session, or None; a kiosk token from the environment signs in read-only."""
    config = settings()
    if _TOKEN not in st.session_state and config.token:
        sign_in(config.token, kiosk=True)
    token = st.session_state.get(_TOKEN)
    me = st.session_state.get(_ME)
    if not token or me is None:
        return None
    return Session(
        client=_client(config.api_url, token),
        me=me,
        api_url=config.api_url,
        token_key=token_key(token),
        kiosk=bool(st.session_state.get(_KIOSK)),
    )


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _cached_get(
    api_url: str, token_key: str, path: str, params: tuple[tuple[str, Any], ...], _client: Any
) -> Any:
    return _client.get(path, **dict(params))


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _cached_text(
    api_url: str, token_key: str, path: str, params: tuple[tuple[str, Any], ...], _client: Any
) -> str:
    return str(_client.text(path, **dict(params)))


def get(session: Session, path: str, **params: Any) -> Any:
    """A GET through the per-token cache (raises ApiError like the client)."""
    key = tuple(sorted((k, v) for k, v in params.items() if v is not None))
    return _cached_get(session.api_url, session.token_key, path, key, session.client)


def prefetch(session: Session, reads: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Warm the per-token cache with independent GETs at once, so a page that makes them
    waits for the slowest one rather than for their sum; the page's own `get` calls (same
    path and params) then answer from the cache. A failing read is left for that call to
    raise and show."""
    if not reads:
        return
    ctx = get_script_run_ctx()

    def one(read: tuple[str, dict[str, Any]]) -> None:
        if ctx is not None:  # st.cache_data looks for the script's context on this thread
            add_script_run_ctx(threading.current_thread(), ctx)
        with contextlib.suppress(ApiError):
            get(session, read[0], **read[1])

    with ThreadPoolExecutor(max_workers=min(PREFETCH_THREADS, len(reads))) as pool:
        list(pool.map(one, reads))


def get_text(session: Session, path: str, **params: Any) -> str:
    key = tuple(sorted((k, v) for k, v in params.items() if v is not None))
    return _cached_text(session.api_url, session.token_key, path, key, session.client)


def invalidate() -> None:
    """After a write: every cached read may be stale now."""
    _cached_get.clear()
    _cached_text.clear()
