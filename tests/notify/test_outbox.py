"""R2, R8: emails wait in the outbox and go out by SMTP only when SMTP_HOST is set,
through a real (tiny) SMTP server on a local port, sent by the real RQ worker."""

from __future__ import annotations

import socketserver
import threading
from email import message_from_bytes

from leads.notify.jobs import send_queued_emails
from leads.notify.models import Outbox


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP to take a message: greets, accepts, stores the DATA."""

    def handle(self):
        self.wfile.write(b"220 test SMTP\r\n")
        while line := self.rfile.readline():
            command = line.strip().upper()
            if command.startswith((b"EHLO", b"HELO")):
                self.wfile.write(b"250 test\r\n")
            elif command == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                self.server.messages.append(message_from_bytes(data))
                self.wfile.write(b"250 queued\r\n")
            elif command == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def _smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.daemon_threads = True
    server.messages = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _queued():
    return Outbox.create(
        to="rita@example.test",
        subject="Lead assigned",
        body="Ada Byron is yours.",
        reply_to="reply+t1@replies.test",
    )


def test_r2_without_smtp_host_emails_stay_in_the_outbox(app, run_jobs):
    row = _queued()
    with app.app_context():
        assert send_queued_emails() == 0
    run_jobs()
    assert Outbox.get_by_id(row.id).status == "queued"


def test_r2_r8_with_smtp_host_the_worker_sends_each_email_once_with_its_reply_address(app, run_jobs):
    server = _smtp_server()
    try:
        app.config.update(
            SMTP_HOST="127.0.0.1", SMTP_PORT=server.server_address[1], MAIL_FROM="leadflow@example.test"
        )
        row = _queued()
        with app.app_context():
            assert send_queued_emails() == 1
        run_jobs()
        with app.app_context():
            assert send_queued_emails() == 0  # sent: nothing left to send
        run_jobs()
    finally:
        server.shutdown()
        server.server_close()
    assert Outbox.get_by_id(row.id).status == "sent"
    assert len(server.messages) == 1
    message = server.messages[0]
    assert (message["To"], message["Subject"], message["Reply-To"]) == (
        "rita@example.test",
        "Lead assigned",
        "reply+t1@replies.test",
    )
    assert message["From"] == "leadflow@example.test"
    assert "Ada Byron is yours." in message.get_payload()
