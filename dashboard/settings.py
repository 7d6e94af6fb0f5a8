"""The dashboard's settings, read once from the environment (`DRIFTGATE_DASHBOARD_` prefix)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DRIFTGATE_DASHBOARD_")

    api_url: str = Field(
        default="http://127.0.0.1:8000", description="Base URL of the driftgate API."
    )
    token: str | None = Field(
        default=None,
        description="A token for read-only kiosks: used when nobody signed in, never for writes.",
    )
    page_size: int = Field(default=50, ge=1, le=1000, description="Rows per page of a list.")
