"""Contacts and accounts pages, and creating a lead by hand."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("records", __name__)
