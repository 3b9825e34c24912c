"""The public capture endpoint's 64 KB body cap (C3), for bodies that say their
length and for chunked ones that do not: over the test client with a chunked
stream, and over real HTTP with ``Transfer-Encoding: chunked``."""

from __future__ import annotations

import http.client
import io
from urllib.parse import urlencode, urlsplit

from leads.intake.views import MAX_BODY
from tests.intake.test_intake import counts, make_source, person

CHUNKED = {"Transfer-Encoding": "chunked"}
FORM = "application/x-www-form-urlencoded"
TOO_LARGE = "The submission is larger than 64 KB; nothing was saved."


def form_body(size: int, **fields) -> bytes:
    """A urlencoded submission of exactly ``size`` bytes: a person, padded with
    answers no longer than a capture value may be."""
    body = urlencode(person(**fields))
    number = 0
    while len(body) < size:
        number += 1
        room = size - len(body) - len(f"&a{number}=")
        body += f"&a{number}=" + "x" * max(1, min(1_900, room))
    assert len(body) == size
    return body.encode()


def send_chunked(client, source, body: bytes, **headers):
    """POST ``body`` as a server hands a chunked request to the app: no
    Content-Length, the input terminated by the server. Returns the answer and
    how many bytes of the body the app read."""
    stream = io.BytesIO(body)
    response = client.post(
        f"/capture/{source.key}",
        input_stream=stream,
        content_type=FORM,
        headers={**CHUNKED, **headers},
        environ_overrides={"wsgi.input_terminated": True},
    )
    return response, stream.tell()


def test_c3_a_chunked_body_over_64_kb_is_refused_unread_and_nothing_is_stored(app):
    """C3: a chunked submission over the cap answers 413 with the reason, in
    JSON when asked and as the page otherwise, after reading no more than one
    byte past the cap (it was read up to 40 MB and stored)."""
    with app.app_context():
        form = make_source()
    client = app.test_client()
    huge = form_body(MAX_BODY) + b"&notes=" + b"y" * 1_000_000
    answer, read = send_chunked(client, form, huge, Accept="application/json")
    assert answer.status_code == 413 and read <= MAX_BODY + 1
    assert answer.get_json() == {"status": "rejected", "errors": [{"field": None, "reason": TOO_LARGE}]}
    valid_but_large = form_body(100_000)  # every value within its limit: once read whole and stored
    page, read = send_chunked(client, form, valid_but_large)
    assert page.status_code == 413 and read <= MAX_BODY + 1
    assert TOO_LARGE in page.get_data(as_text=True) and "Your details were not sent" in page.get_data(
        as_text=True
    )
    fragment, _read = send_chunked(client, form, form_body(MAX_BODY + 1), **{"HX-Request": "true"})
    assert fragment.status_code == 413 and 'id="capture-answer"' in fragment.get_data(as_text=True)
    assert counts() == (0, 0, 0)


def test_c3_a_chunked_body_within_64_kb_is_still_captured(app):
    """C3: small chunked submissions, and one of exactly 64 KB, are read whole
    and captured."""
    with app.app_context():
        form = make_source()
    client = app.test_client()
    small, read = send_chunked(client, form, form_body(300))
    assert small.status_code == 303 and read == 300
    full, read = send_chunked(client, form, form_body(MAX_BODY, email="grace@example.test"))
    assert full.status_code == 303 and read == MAX_BODY
    assert counts() == (2, 2, 2)


def test_c3_a_content_length_over_64_kb_is_refused_before_any_read(app):
    """C3: with a Content-Length over the cap nothing of the body is read; one
    byte over is refused too, exactly 64 KB is captured."""
    with app.app_context():
        form = make_source()
    client = app.test_client()
    huge = io.BytesIO(form_body(1_000_000 + 7))
    answer = client.post(f"/capture/{form.key}", input_stream=huge, content_type=FORM)
    assert answer.status_code == 413 and huge.tell() == 0
    over = client.post(f"/capture/{form.key}", data=form_body(MAX_BODY + 1), content_type=FORM)
    assert over.status_code == 413 and TOO_LARGE in over.get_data(as_text=True)
    assert counts() == (0, 0, 0)
    exact = client.post(f"/capture/{form.key}", data=form_body(MAX_BODY), content_type=FORM)
    assert exact.status_code == 303
    assert counts() == (1, 1, 1)


def _post_chunked(base_url: str, path: str, chunks, headers: dict) -> tuple[int, bytes]:
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request("POST", path, body=iter(chunks), headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_c3_over_real_http_a_chunked_body_over_64_kb_gets_413_and_a_small_one_is_captured(
    sqlite_app, live_server
):
    """C3: through the real HTTP server, ``Transfer-Encoding: chunked`` with no
    Content-Length: 100 KB in chunks (every value within its limit) answers 413
    in JSON and stores nothing; a small chunked submission is captured."""
    with sqlite_app.app_context():
        form = make_source()
    headers = {"Content-Type": FORM, "Accept": "application/json"}
    big = form_body(100_000)
    chunks = [big[start : start + 16_384] for start in range(0, len(big), 16_384)]
    status, body = _post_chunked(live_server, f"/capture/{form.key}", chunks, headers)
    assert status == 413 and TOO_LARGE.encode() in body
    assert counts() == (0, 0, 0)
    small = form_body(500)
    status, body = _post_chunked(live_server, f"/capture/{form.key}", [small[:200], small[200:]], headers)
    assert status == 200 and b'"received"' in body
    assert counts() == (1, 1, 1)
