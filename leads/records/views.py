"""Contacts and accounts pages, and creating a lead by hand (C1, E1, E2, G1).

Everyone signed in may browse contacts and accounts they can see (a rep only
their own, a teleprospector only those of the leads they may see: others are a
404 and absent from the lists); marketers, managers and admins create and edit
them and create leads by hand.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from peewee import IntegrityError

from auth.models import ADMIN, MANAGER, MARKETER, REP
from auth.policy import allow, current_user, signed_in
from leads.activities.views import timeline_context
from leads.core.numbers import whole_number
from leads.records import activity, directory, services
from leads.records.forms import AccountForm, ContactForm, LeadForm
from web.render import render, render_fragment, wants_fragment

bp = Blueprint("records", __name__)

EDITORS = (MARKETER, MANAGER, ADMIN)


def _can_edit() -> bool:
    return current_user().role in EDITORS


def _saved(target: str, message: str):
    """After a successful save: go to ``target`` (htmx follows HX-Redirect)."""
    flash(message)
    if request.htmx:
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def _form_page(page: str, fragment: str, form, **context):
    """The form page, or its fragment for htmx; 422 when a submission was invalid."""
    status = 422 if form.is_submitted() else 200
    return render(page, fragment, status=status, form=form, **context)


def _list_page(kind: str, query):
    args = directory.parse_list_args(request.args)
    listing = directory.page_of(query(current_user(), args), args.page, current_app.config["PAGE_SIZE"])
    return render(
        f"records/{kind}.html",
        f"records/_{kind}_table.html",
        listing=listing,
        args=args,
        owners=[] if current_user().role == REP else directory.owner_filter_choices(),
        can_edit=_can_edit(),
    )


# Contacts ---------------------------------------------------------------------------


@bp.route("/contacts")
@signed_in
def contacts():
    """Contacts the user may see: search by name, email or company, owner filter, pages."""
    return _list_page("contacts", directory.contact_list)


@bp.route("/contacts/<int:contact_id>")
@signed_in
def contact(contact_id: int):
    """A contact with its account, owner, the leads the user may see (E2), one
    timeline of its own activities (with their inline forms) and those of these
    leads (W1), and its latest interactions, newest first."""
    user = current_user()
    found = directory.contact_for(user, contact_id) or abort(404)
    leads = list(directory.leads_of_contact(user, contact_id))
    return render(
        "records/contact.html",
        contact=found,
        leads=leads,
        **timeline_context(
            found, user, request.args.get("activity", "all"), lead_ids=[lead.id for lead in leads]
        ),
        interactions=activity.shown(activity.contact_interactions(contact_id)),
        interactions_limit=activity.SHOWN,
        can_edit=_can_edit(),
    )


@bp.route("/contacts/new", methods=["GET", "POST"])
@allow(*EDITORS)
def new_contact():
    form = ContactForm()
    if form.validate_on_submit():
        created = services.create_contact(form.values())
        return _saved(url_for("records.contact", contact_id=created.id), "Contact created.")
    return _form_page("records/contact_form.html", "records/_contact_form.html", form, contact=None)


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@allow(*EDITORS)
def edit_contact(contact_id: int):
    found = directory.contact_for(current_user(), contact_id) or abort(404)
    form = ContactForm(data=ContactForm.initial(found), current_owner_id=found.owner_id)
    if form.validate_on_submit():
        services.update_contact(contact_id, form.values())
        return _saved(url_for("records.contact", contact_id=contact_id), "Contact saved.")
    return _form_page("records/contact_form.html", "records/_contact_form.html", form, contact=found)


# Accounts ---------------------------------------------------------------------------


@bp.route("/accounts")
@signed_in
def accounts():
    """Accounts the user may see: search by name or domain, owner filter, pages."""
    return _list_page("accounts", directory.account_list)


@bp.route("/accounts/<int:account_id>")
@signed_in
def account(account_id: int):
    """An account with its owner, the contacts and leads the user may see, and
    one timeline of its own activities (with their inline forms) and those of these leads (W1)."""
    user = current_user()
    found = directory.account_for(user, account_id) or abort(404)
    leads = list(directory.leads_of_account(user, account_id))
    return render(
        "records/account.html",
        account=found,
        contacts=list(directory.contacts_of_account(user, account_id)),
        leads=leads,
        **timeline_context(
            found, user, request.args.get("activity", "all"), lead_ids=[lead.id for lead in leads]
        ),
        can_edit=_can_edit(),
    )


@bp.route("/accounts/new", methods=["GET", "POST"])
@allow(*EDITORS)
def new_account():
    form = AccountForm()
    if form.validate_on_submit():
        created = services.create_account(form.values())
        return _saved(url_for("records.account", account_id=created.id), "Account created.")
    return _form_page("records/account_form.html", "records/_account_form.html", form, account=None)


@bp.route("/accounts/<int:account_id>/edit", methods=["GET", "POST"])
@allow(*EDITORS)
def edit_account(account_id: int):
    found = directory.account_for(current_user(), account_id) or abort(404)
    form = AccountForm(data=AccountForm.initial(found), current_owner_id=found.owner_id)
    if form.validate_on_submit():
        services.update_account(account_id, form.values())
        return _saved(url_for("records.account", account_id=account_id), "Account saved.")
    return _form_page("records/account_form.html", "records/_account_form.html", form, account=found)


# Leads created by hand --------------------------------------------------------------


@bp.route("/leads/new", methods=["GET", "POST"])
@allow(*EDITORS)
def new_lead():
    """A lead by hand (C1), optionally for a contact or account (``?contact=`` /
    ``?account=`` prefill the form: E2); contact and account are optional (E1)."""
    user = current_user()
    prefill = (
        {}
        if request.method == "POST"
        else directory.lead_defaults(user, _arg_id("contact"), _arg_id("account"))
    )
    form = LeadForm(data=prefill)
    if form.validate_on_submit():
        try:
            lead = services.create_lead(form.values(), user)
        except IntegrityError:  # a chosen record was deleted meanwhile
            form.form_errors.append("A chosen record no longer exists. Check the form and try again.")
        else:
            return _saved(url_for("lead_page.show", lead_id=lead.id), "Lead created.")
    return _form_page("records/lead_form.html", "records/_lead_form.html", form)


@bp.route("/contacts/options")
@allow(*EDITORS)
def contact_options():
    """The contact choices of the lead form matching a search (an htmx swap)."""
    selected = _arg_id("contact")
    rows = directory.recent_contacts(_arg_q("contact_q"), selected)
    return _options("records/_contact_options.html", rows, selected, directory.contact_label)


@bp.route("/accounts/options")
@allow(*EDITORS)
def account_options():
    """The account choices of the lead and contact forms matching a search (an htmx swap)."""
    selected = _arg_id("account")
    rows = directory.recent_accounts(_arg_q("account_q"), selected)
    return _options("records/_account_options.html", rows, selected, directory.account_label)


def _options(fragment: str, rows, selected: int | None, label):
    if not wants_fragment():  # only a swap target: a plain visit goes to a form
        return redirect(url_for("records.new_lead"))
    return render_fragment(fragment, rows=rows, selected=selected, label=label)


def _arg_id(name: str) -> int | None:
    return whole_number(request.args.get(name))


def _arg_q(name: str) -> str:
    return " ".join((request.args.get(name) or "").split())[: directory.MAX_QUERY_LENGTH]
