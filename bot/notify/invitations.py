"""Sends the visitors' meeting invitations (``crm_core.scheduling.invitations``): an e-mail whose text says
the time and the link, with the ``.ics`` both as the calendar part and as an attachment (what mail clients
offer to add to a calendar)."""

import logging
import smtplib
from email.message import EmailMessage

from bot.notify import mail
from crm_core.config import Settings
from crm_core.db import unit_of_work
from crm_core.scheduling import invitations

log = logging.getLogger(__name__)


def message(invitation: invitations.InvitationMail) -> EmailMessage:
    email = EmailMessage()
    email["To"] = invitation.to
    email["Subject"] = invitation.subject
    email.set_content(invitation.text)
    email.add_alternative(
        invitation.ics, maintype="text", subtype="calendar", params={"method": invitation.method}
    )
    email.add_attachment(invitation.ics, maintype="application", subtype="ics", filename="invite.ics")
    return email


def deliver_invitations(settings: Settings) -> int:
    """Send the due invitations; a failed send is tried again later. Returns how many were tried."""
    if not settings.smtp_host:
        return 0  # they wait in the outbox until e-mail is configured
    with unit_of_work() as session:
        due = invitations.claim_due(session)
    for invitation in due:
        try:
            mail.send(settings, message(invitation))
        except (OSError, smtplib.SMTPException) as error:
            log.warning("invitation %s to %s not sent: %s", invitation.invitation_id, invitation.to, error)
            with unit_of_work() as session:
                invitations.mark_failed(session, invitation.invitation_id, f"SMTP: {error}")
        else:
            with unit_of_work() as session:
                invitations.mark_sent(session, invitation.invitation_id)
    return len(due)
