"""Peewee migrations -- 001_initial.py.

Some examples (model - class or model name)::

    > Model = migrator.orm['table_name']            # Return model in current state by name
    > Model = migrator.ModelClass                   # Return model in current state by name

    > migrator.sql(sql)                             # Run custom SQL
    > migrator.run(func, *args, **kwargs)           # Run python function with the given args
    > migrator.create_model(Model)                  # Create a model (could be used as decorator)
    > migrator.remove_model(model, cascade=True)    # Remove a model
    > migrator.add_fields(model, **fields)          # Add fields (allow_not_null=True skips default)
    > migrator.change_fields(model, **fields)       # Change fields
    > migrator.remove_fields(model, *field_names, cascade=True)
    > migrator.rename_field(model, old_field_name, new_field_name)
    > migrator.rename_table(model, new_table_name)
    > migrator.add_index(model, *col_names, unique=False)
    > migrator.add_not_null(model, *field_names)
    > migrator.add_default(model, field_name, default)
    > migrator.add_constraint(model, name, sql)
    > migrator.drop_index(model, *col_names)
    > migrator.drop_not_null(model, *field_names)
    > migrator.drop_constraints(model, *constraints)

"""

from contextlib import suppress

import peewee as pw
from peewee_migrate import Migrator


with suppress(ImportError):
    import playhouse.postgres_ext as pw_pext


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    """Write your migrations here."""
    
    @migrator.create_model
    class Team(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=100, unique=True)

        class Meta:
            table_name = "team"

    @migrator.create_model
    class User(pw.Model):
        id = pw.AutoField()
        email = pw.CharField(max_length=254, unique=True)
        name = pw.CharField(max_length=120)
        password_hash = pw.CharField(max_length=255, null=True)
        role = pw.CharField(index=True, max_length=20)
        team = pw.ForeignKeyField(column_name='team_id', field='id', model=migrator.orm['team'], null=True, on_delete='SET NULL')
        is_active = pw.BooleanField(default=True)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "user"
            indexes = [(('role', 'is_active'), False)]

    @migrator.create_model
    class Account(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=200)
        domain = pw.CharField(index=True, max_length=200, null=True)
        industry = pw.CharField(max_length=100, null=True)
        employee_count = pw.IntegerField(null=True)
        annual_revenue = pw.BigIntegerField(null=True)
        country = pw.CharField(max_length=2, null=True)
        owner = pw.ForeignKeyField(column_name='owner_id', field='id', model=migrator.orm['user'], null=True, on_delete='SET NULL')
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "account"
            indexes = [(('name',), False)]

    @migrator.create_model
    class ApiToken(pw.Model):
        id = pw.AutoField()
        token_hash = pw.CharField(max_length=64, unique=True)
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['user'], on_delete='CASCADE')
        name = pw.CharField(max_length=100)
        created_at = pw.DateTimeField()
        last_used_at = pw.DateTimeField(null=True)
        revoked_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "api_token"

    @migrator.create_model
    class ProductLine(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=100, unique=True)
        code = pw.CharField(max_length=20, unique=True)

        class Meta:
            table_name = "product_line"

    @migrator.create_model
    class Campaign(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=150, unique=True)
        product_line = pw.ForeignKeyField(column_name='product_line_id', field='id', model=migrator.orm['product_line'], null=True, on_delete='SET NULL')
        status = pw.CharField(default='draft', max_length=20)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "campaign"

    @migrator.create_model
    class Contact(pw.Model):
        id = pw.AutoField()
        first_name = pw.CharField(default='', max_length=100)
        last_name = pw.CharField(default='', max_length=100)
        email = pw.CharField(index=True, max_length=254, null=True)
        phone = pw.CharField(max_length=40, null=True)
        job_title = pw.CharField(max_length=150, null=True)
        country = pw.CharField(max_length=2, null=True)
        account = pw.ForeignKeyField(column_name='account_id', field='id', model=migrator.orm['account'], null=True, on_delete='SET NULL')
        owner = pw.ForeignKeyField(column_name='owner_id', field='id', model=migrator.orm['user'], null=True, on_delete='SET NULL')
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "contact"

    @migrator.create_model
    class Lead(pw.Model):
        id = pw.AutoField()
        topic = pw.CharField(max_length=200)
        first_name = pw.CharField(default='', max_length=100)
        last_name = pw.CharField(default='', max_length=100)
        email = pw.CharField(max_length=254, null=True)
        phone = pw.CharField(max_length=40, null=True)
        company = pw.CharField(max_length=200, null=True)
        job_title = pw.CharField(max_length=150, null=True)
        country = pw.CharField(max_length=2, null=True)
        source = pw.CharField(default='manual', max_length=50)
        contact = pw.ForeignKeyField(column_name='contact_id', field='id', model=migrator.orm['contact'], null=True, on_delete='SET NULL')
        account = pw.ForeignKeyField(column_name='account_id', field='id', model=migrator.orm['account'], null=True, on_delete='SET NULL')
        campaign = pw.ForeignKeyField(column_name='campaign_id', field='id', model=migrator.orm['campaign'], null=True, on_delete='SET NULL')
        product_line = pw.ForeignKeyField(column_name='product_line_id', field='id', model=migrator.orm['product_line'], null=True, on_delete='SET NULL')
        team = pw.ForeignKeyField(column_name='team_id', field='id', model=migrator.orm['team'], null=True, on_delete='SET NULL')
        status = pw.CharField(default='open', max_length=20)
        status_reason = pw.CharField(default='new', max_length=30)
        stage = pw.SmallIntegerField(default=1)
        sales_ready = pw.BooleanField(default=False)
        ready_for_tp = pw.BooleanField(default=False)
        tp_accepted = pw.BooleanField(default=False)
        sales_accepted = pw.BooleanField(default=False)
        owner = pw.ForeignKeyField(column_name='owner_id', field='id', model=migrator.orm['user'], null=True, on_delete='SET NULL')
        teleprospector = pw.ForeignKeyField(column_name='teleprospector_id', field='id', model=migrator.orm['user'], null=True, on_delete='SET NULL')
        qualification = pw.TextField()
        assigned_at = pw.DateTimeField(null=True)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "lead"
            indexes = [(('created_at',), False), (('stage', 'created_at'), False), (('status', 'created_at'), False), (('owner', 'status', 'created_at'), False), (('product_line', 'created_at'), False), (('team', 'created_at'), False), (('email',), False), (('last_name', 'first_name'), False), (('company',), False)]

    @migrator.create_model
    class Interaction(pw.Model):
        id = pw.AutoField()
        contact = pw.ForeignKeyField(column_name='contact_id', field='id', model=migrator.orm['contact'], null=True, on_delete='CASCADE')
        lead = pw.ForeignKeyField(column_name='lead_id', field='id', model=migrator.orm['lead'], null=True, on_delete='CASCADE')
        type = pw.CharField(max_length=50)
        occurred_at = pw.DateTimeField()
        properties = pw.TextField()
        source = pw.CharField(default='api', max_length=100)
        external_id = pw.CharField(max_length=200)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "interaction"
            indexes = [(('source', 'external_id'), True), (('contact', 'occurred_at'), False), (('lead', 'occurred_at'), False)]

    @migrator.create_model
    class LeadHistory(pw.Model):
        id = pw.AutoField()
        lead = pw.ForeignKeyField(column_name='lead_id', field='id', model=migrator.orm['lead'], on_delete='CASCADE')
        kind = pw.CharField(max_length=30)
        old_value = pw.CharField(max_length=100, null=True)
        new_value = pw.CharField(max_length=100, null=True)
        actor = pw.ForeignKeyField(column_name='actor_id', field='id', model=migrator.orm['user'], null=True, on_delete='SET NULL')
        via = pw.CharField(max_length=200, null=True)
        note = pw.TextField(null=True)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "lead_history"
            indexes = [(('lead', 'created_at'), False)]

    @migrator.create_model
    class QualificationField(pw.Model):
        id = pw.AutoField()
        key = pw.CharField(max_length=40, unique=True)
        label = pw.CharField(max_length=100)
        kind = pw.CharField(default='text', max_length=20)
        choices = pw.TextField()
        required = pw.BooleanField(default=False)
        position = pw.IntegerField(default=0)
        active = pw.BooleanField(default=True)

        class Meta:
            table_name = "qualification_field"

    @migrator.create_model
    class UserSession(pw.Model):
        id = pw.AutoField()
        token_hash = pw.CharField(max_length=64, unique=True)
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['user'], on_delete='CASCADE')
        created_at = pw.DateTimeField()
        last_seen_at = pw.DateTimeField()
        revoked_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "user_session"
            indexes = [(('user', 'revoked_at'), False)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    """Write your rollback migrations here."""
    
    migrator.remove_model('user_session')

    migrator.remove_model('qualification_field')

    migrator.remove_model('lead_history')

    migrator.remove_model('interaction')

    migrator.remove_model('lead')

    migrator.remove_model('contact')

    migrator.remove_model('campaign')

    migrator.remove_model('product_line')

    migrator.remove_model('api_token')

    migrator.remove_model('account')

    migrator.remove_model('user')

    migrator.remove_model('team')
