"""CSV imports (SPEC C2): the uploaded file, its mapping and outcome, and the
rows it could not import. The schema is ``migrations/006_imports.py``."""

from __future__ import annotations

import peewee as pw

from auth.models import User
from leads.base.db import BaseModel, JSONField, utcnow
from leads.base.models import BackgroundTask

# An import's life: mapped by the user, then queued, running, done (or failed).
MAPPING, QUEUED, RUNNING, DONE, FAILED = "mapping", "queued", "running", "done", "failed"
STATUSES = {
    MAPPING: "Waiting for the column mapping",
    QUEUED: "Queued",
    RUNNING: "Importing",
    DONE: "Done",
    FAILED: "Failed",
}


class Import(BaseModel):
    """One uploaded CSV file of contacts, accounts or leads and what became of it.

    ``rows_done`` counts the data rows already written (or reported) by committed
    chunks, so a job that is retried after a crash resumes where it stopped and
    the counts stay exact."""

    entity = pw.CharField(max_length=20)
    filename = pw.CharField(max_length=255)
    size = pw.IntegerField(default=0)
    encoding = pw.CharField(max_length=20)
    delimiter = pw.CharField(max_length=2)
    has_bom = pw.BooleanField(default=False)
    headers = JSONField(default=list)
    mapping = JSONField(default=dict)  # header -> field (or null)
    defaults = JSONField(default=dict)  # values for what the rows leave blank (a lead's topic, source)
    update_policy = pw.CharField(max_length=20, default="fill_empty")
    status = pw.CharField(max_length=20, default=MAPPING)
    task = pw.ForeignKeyField(BackgroundTask, null=True, on_delete="SET NULL")
    rows_done = pw.IntegerField(default=0)
    created = pw.IntegerField(default=0)
    updated = pw.IntegerField(default=0)
    unchanged = pw.IntegerField(default=0)
    failed = pw.IntegerField(default=0)
    problem = pw.TextField(null=True)  # why the whole import failed
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    finished_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("created_at",), False),)

    @property
    def status_label(self) -> str:
        return STATUSES.get(self.status, self.status)

    @property
    def running(self) -> bool:
        """True while the job has work left (the progress fragment keeps polling)."""
        return self.status in (QUEUED, RUNNING)


class ImportFile(BaseModel):
    """The uploaded bytes, kept apart so listing imports never loads them. In the
    database rather than under ``instance/``: a worker on another host reads it too."""

    upload = pw.ForeignKeyField(Import, primary_key=True, on_delete="CASCADE", column_name="import_id")
    content = pw.BlobField()


class ImportRowError(BaseModel):
    """One rejected row of an import: its physical line, the field at fault
    (blank for the whole row), the reason, and the row's original values."""

    upload = pw.ForeignKeyField(Import, backref="row_errors", on_delete="CASCADE", column_name="import_id")
    line = pw.IntegerField()
    field = pw.CharField(max_length=50, default="")
    reason = pw.CharField(max_length=500)
    values = JSONField(default=dict)

    class Meta:
        table_name = "import_error"
        indexes = ((("upload", "line"), False),)
