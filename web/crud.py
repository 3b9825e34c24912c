"""The answers of the list-and-edit pages (STYLE 10, 13): one record or a 404,
a form post that stores one thing or re-renders its form with the errors inline
(422), and after a save the changed region for htmx or a redirect for a plain
post (post/redirect/get).

A *page* here is a view module's function that renders the full page or, for
htmx, its region (through ``web.render.render``) and takes ``form``, ``notice``
and ``status`` keywords: ``page(form=None, notice=None, status=200)`` for a
list with its "add" form, ``page(record, form=None, notice=None, status=200)``
for one record's edit form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, url_for

from web.render import wants_fragment

NOT_STORED = object()  # what ``store`` answers when the form is invalid or refused


def get_or_404(model, record_id: int):
    """The ``model`` row with ``record_id``, or a 404 answer."""
    record = model.get_or_none(model.id == record_id)
    if record is None:
        abort(404)
    return record


def saved(message: str, region: Callable, endpoint: str, **values):
    """After a successful write: the refreshed ``region()`` for an htmx swap, else
    flash ``message`` and redirect to ``endpoint`` (post/redirect/get)."""
    if wants_fragment():
        return region()
    flash(message)
    return redirect(url_for(endpoint, **values))


def reason_on(name: str) -> Callable:
    """A ``show`` for :func:`store`: the refusal's message under the form field ``name``."""
    return lambda form, error: getattr(form, name).errors.append(str(error))


def store(form, save: Callable, refused=(), show: Callable | None = None) -> Any:
    """Validate ``form`` and call ``save()``: what it returns, or ``NOT_STORED``
    when the form is invalid or ``save`` raised one of the ``refused`` exception
    types (then ``show(form, error)`` has put the reason on the form)."""
    if not form.validate_on_submit():
        return NOT_STORED
    try:
        return save()
    except refused as error:
        show(form, error)
        return NOT_STORED


def create(form, save: Callable, page: Callable, message, endpoint: str, refused=(), show=None, **values):
    """The answer to a list page's "add" form: ``page(form=form, status=422)``
    unless :func:`store` stored it, else :func:`saved` with ``page(notice=...)``
    as the region. ``message`` is the notice, or a function of what ``save``
    returned that makes it."""
    created = store(form, save, refused, show)
    if created is NOT_STORED:
        return page(form=form, status=422)
    notice = message(created) if callable(message) else message
    return saved(notice, lambda: page(notice=notice), endpoint, **values)


def update(record, form, save: Callable, page: Callable, endpoint: str, refused=(), show=None, **values):
    """The answer to ``record``'s edit form: ``page(record, form, status=422)``
    unless :func:`store` stored it, else :func:`saved` with "Changes saved." and
    the page of the record as now stored (read again) as the region."""
    if store(form, save, refused, show) is NOT_STORED:
        return page(record, form, status=422)
    notice = "Changes saved."
    return saved(notice, lambda: page(type(record).get_by_id(record.id), notice=notice), endpoint, **values)
