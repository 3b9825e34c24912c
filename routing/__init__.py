"""Routing: assignment rules, queues and notifications."""
