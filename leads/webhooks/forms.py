"""The outgoing webhook form (Q2 follow-ups): name, URL, events and active."""

from __future__ import annotations

from flask import current_app
from wtforms import BooleanField, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length, ValidationError

from leads.webhooks import targets
from leads.webhooks.delivery import WEBHOOK_EVENTS
from web.forms import PageForm


class EventsField(SelectMultipleField):
    """Checkboxes, one per event."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class WebhookForm(PageForm):
    name = StringField("Name", validators=[DataRequired(message="Enter a name."), Length(max=120)])
    url = StringField(
        "URL",
        description="Where leadflow POSTs each event as JSON (https, or http inside your network).",
        validators=[DataRequired(message="Enter a URL."), Length(max=500)],
    )
    events = EventsField("Events", choices=list(WEBHOOK_EVENTS.items()))
    active = BooleanField("Active", default=True)

    def validate_url(self, field):
        """A valid http(s) URL to a public address (G1: the worker is no proxy
        into the install's own network), unless the install allows private ones."""
        try:
            targets.check_when_saving(
                field.data, allow_private=bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE_TARGETS"))
            )
        except targets.TargetRefused as refused:
            raise ValidationError(refused.reason) from refused

    def validate_events(self, field):
        if not field.data:
            raise ValidationError("Choose at least one event.")

    def values(self) -> dict:
        """The cleaned values for ``leads.webhooks.services.create_webhook`` / ``update_webhook``."""
        return {
            "name": self.name.data,
            "url": self.url.data.strip(),
            "events": list(self.events.data or []),
            "active": bool(self.active.data),
        }
