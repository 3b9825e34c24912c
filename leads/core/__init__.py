"""The pure core: the business rules as plain functions over plain values (no Flask, peewee, Redis or RQ)."""
