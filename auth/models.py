"""Users, their roles and teams, server-side sessions and API tokens."""

from __future__ import annotations

import peewee as pw

from leads.base.db import BaseModel, utcnow

ADMIN = "admin"
MARKETER = "marketer"
MANAGER = "manager"
TELEPROSPECTOR = "teleprospector"
REP = "rep"
INTEGRATION = "integration"

ROLES = {
    ADMIN: "Admin",
    MARKETER: "Marketer",
    MANAGER: "Sales manager",
    TELEPROSPECTOR: "Teleprospector",
    REP: "Sales rep",
    INTEGRATION: "Integration (API only)",
}


class Team(BaseModel):
    name = pw.CharField(max_length=100, unique=True)

    def __str__(self):
        return self.name


class User(BaseModel):
    email = pw.CharField(max_length=254, unique=True)
    name = pw.CharField(max_length=120)
    password_hash = pw.CharField(max_length=255, null=True)
    role = pw.CharField(max_length=20, index=True)
    team = pw.ForeignKeyField(Team, null=True, backref="members", on_delete="SET NULL")
    is_active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("role", "is_active"), False),)

    def __str__(self):
        return self.name

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)


class UserSession(BaseModel):
    """A signed-in browser. The cookie carries a random token; only its hash is
    stored, and revoking the row ends the session for real."""

    token_hash = pw.CharField(max_length=64, unique=True)
    user = pw.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    created_at = pw.DateTimeField(default=utcnow)
    last_seen_at = pw.DateTimeField(default=utcnow)
    revoked_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "revoked_at"), False),)


class ApiToken(BaseModel):
    """A bearer token for the JSON API, acting as its user (and role)."""

    token_hash = pw.CharField(max_length=64, unique=True)
    user = pw.ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    name = pw.CharField(max_length=100)
    created_at = pw.DateTimeField(default=utcnow)
    last_used_at = pw.DateTimeField(null=True)
    revoked_at = pw.DateTimeField(null=True)
