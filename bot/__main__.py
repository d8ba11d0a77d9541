"""``python -m bot``: the Slack bot alone (no admin console), same as ``needle serve --faces bot``."""

from __future__ import annotations

from pipelines.app import server
from pipelines.base.logging_setup import configure_logging
from pipelines.base.settings import SettingsError, get_settings
from pipelines.service.facade import NeedleService


def main() -> int:
    try:
        settings = get_settings()
    except SettingsError as error:
        print(error)
        return 2
    configure_logging(settings, json_lines=settings.log_format == "json")
    if not settings.slack_enabled:
        print("Set NEEDLE_SLACK_BOT_TOKEN (and the app token or signing secret) to run the bot.")
        return 2
    service = NeedleService(settings)
    app, _ = server.build_server(service, {"bot"})
    server.run(service, app)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
