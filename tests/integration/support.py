"""What the integration tests share beside their fixtures (`conftest.py`)."""

from shared.settings import Settings


def settings_for(connection_string: str, prefix: str) -> Settings:
    return Settings.from_mapping({"STATE_STORAGE_CONNECTION_STRING": connection_string, "STATE_TABLE_PREFIX": prefix})
