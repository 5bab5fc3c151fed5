"""Sending one e-mail over the configured SMTP server (EMBUDO_SMTP_*): rep cards and visitor invitations."""

import smtplib
from email.message import EmailMessage

from crm_core.config import Settings


def send(settings: Settings, message: EmailMessage) -> None:
    """Send ``message`` (From is set here); raises OSError or SMTPException when it could not go."""
    assert settings.smtp_host
    message["From"] = settings.smtp_from
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password)
        smtp.send_message(message)
