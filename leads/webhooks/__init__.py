"""Outgoing webhooks (Q2 follow-ups): their records, management pages and signed deliveries."""
