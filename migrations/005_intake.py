"""C3–C6, M1–M5: matching strategies (with their defaults, M2), the match-key
index, capture sources and automatic lead rules."""

import datetime as dt
import json

import peewee as pw
from peewee_migrate import Migrator

# M2 (and accounts for the CSV import): name, entity, fields.
DEFAULTS = [
    ("Contact by email", "contact", ["email"]),
    ("Lead by email and source form", "lead", ["email", "source"]),
    ("Account by domain", "account", ["domain"]),
]


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    orm = migrator.orm

    @migrator.create_model
    class MatchingStrategy(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=120, unique=True)
        entity = pw.CharField(max_length=20)
        fields = pw.TextField()
        is_default = pw.BooleanField(default=False)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "matching_strategy"

    @migrator.create_model
    class MatchKey(pw.Model):
        id = pw.AutoField()
        entity = pw.CharField(max_length=20)
        strategy = pw.CharField(max_length=40)
        key = pw.CharField(max_length=300)
        record_id = pw.IntegerField()

        class Meta:
            table_name = "match_key"
            indexes = [(("entity", "strategy", "key"), True), (("entity", "record_id"), False)]

    @migrator.create_model
    class MatchKeyWatermark(pw.Model):
        entity = pw.CharField(max_length=20, primary_key=True)
        last_id = pw.IntegerField(default=0)

        class Meta:
            table_name = "match_key_watermark"

    @migrator.create_model
    class CaptureSource(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=120, unique=True)
        key = pw.CharField(max_length=64, unique=True)
        kind = pw.CharField(max_length=20, default="form")
        event_id = pw.CharField(max_length=100, null=True)
        field_mapping = pw.TextField()
        contact_strategies = pw.TextField()
        lead_strategies = pw.TextField()
        campaign = pw.ForeignKeyField(
            column_name="campaign_id", field="id", model=orm["campaign"], null=True, on_delete="SET NULL"
        )
        product_line = pw.ForeignKeyField(
            column_name="product_line_id",
            field="id",
            model=orm["product_line"],
            null=True,
            on_delete="SET NULL",
        )
        creates_lead = pw.BooleanField(default=True)
        update_policy = pw.CharField(max_length=20, default="fill_empty")
        thank_you_url = pw.CharField(max_length=500, null=True)
        active = pw.BooleanField(default=True)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "capture_source"

    @migrator.create_model
    class AutoLeadRule(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=120, unique=True)
        campaign = pw.ForeignKeyField(
            column_name="campaign_id", field="id", model=orm["campaign"], null=True, on_delete="CASCADE"
        )
        product_line = pw.ForeignKeyField(
            column_name="product_line_id",
            field="id",
            model=orm["product_line"],
            null=True,
            on_delete="CASCADE",
        )
        interaction_types = pw.TextField()
        active = pw.BooleanField(default=True)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "auto_lead_rule"

    # M3: one default per entity type, as a constraint (SQLite and PostgreSQL
    # both have partial indexes).
    migrator.sql(
        "CREATE UNIQUE INDEX matching_strategy_one_default ON matching_strategy (entity) WHERE is_default"
    )

    def insert_defaults():
        model = orm["matching_strategy"]
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        model.insert_many(
            [
                dict(
                    name=name,
                    entity=entity,
                    fields=json.dumps(fields),
                    is_default=True,
                    created_at=now,
                    updated_at=now,
                )
                for name, entity, fields in DEFAULTS
            ]
        ).execute()

    migrator.run(insert_defaults)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("DROP INDEX IF EXISTS matching_strategy_one_default")
    for name in ("auto_lead_rule", "capture_source", "match_key_watermark", "match_key", "matching_strategy"):
        migrator.remove_model(name)
