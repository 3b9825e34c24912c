"""In-app notifications and the outbox of emails, used by routing and campaigns (R2, R8)."""
