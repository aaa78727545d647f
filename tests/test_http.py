"""The HTTP contract of sqdiff-httpd: answers, exactness, errors, protocols."""

import json
import random
import socket
import subprocess
import time

import pytest

from expected import answer, query
from suite import read_responses

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def check_answer(resp, numbers):
    assert resp.status == 200, resp
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == answer(numbers)


# --- the worked examples: one number, one to ten, the README's example ---------------------------

def test_single_number(suite):
    resp = suite.get("/?n=42")
    assert resp.status == 200
    assert resp.json() == {"sum": 42**2, "square": 42**2, "diff": 0}


def test_ten_numbers(suite):
    resp = suite.get(query(range(1, 11)))
    assert resp.json() == {"sum": 385, "square": 3025, "diff": 2640}


def test_readme_example_is_byte_exact(suite):
    assert suite.get("/?n=1&n=2&n=3").body == b'{"sum":14,"square":36,"diff":22}'


# --- exactness -----------------------------------------------------------------------------------

@pytest.mark.parametrize("numbers", [
    [INT64_MAX, INT64_MAX],
    [INT64_MIN, INT64_MIN],
    [INT64_MIN, INT64_MAX],
    [INT64_MIN],
    [0],
    [1, -1],
    [INT64_MAX] * 1000,
    [INT64_MIN, INT64_MIN + 1] * 500,
])
def test_int64_edges_are_exact(suite, numbers):
    check_answer(suite.request("/", method="POST", body=json.dumps({"numbers": numbers}).encode()), numbers)
    if len(numbers) <= 100:
        check_answer(suite.get(query(numbers)), numbers)


def test_results_beyond_128_bits_come_out_digit_for_digit(suite):
    resp = suite.get(f"/?n={INT64_MAX}&n={INT64_MAX}")
    assert resp.body == ('{"sum":%d,"square":%d,"diff":%d}' % (
        2 * INT64_MAX**2, (2 * INT64_MAX) ** 2, (2 * INT64_MAX) ** 2 - 2 * INT64_MAX**2)).encode()


def test_random_lists_match_python(suite):
    """A differential check: 2,000 random lists against Python's exact integers."""
    rng = random.Random(6)
    for _ in range(2000):
        bits = rng.choice([3, 16, 32, 62, 63, 64])
        numbers = [rng.randrange(-(2 ** (bits - 1)), 2 ** (bits - 1)) for _ in range(rng.randrange(1, 40))]
        if rng.random() < 0.5:
            check_answer(suite.get(query(numbers)), numbers)
        else:
            check_answer(suite.request("/", method="POST", body=json.dumps({"numbers": numbers}).encode()), numbers)


def test_local_mode_gives_the_same_answers(suite, local_suite):
    rng = random.Random(7)
    for _ in range(100):
        numbers = [rng.randrange(INT64_MIN, INT64_MAX) >> rng.randrange(64) for _ in range(rng.randrange(1, 20))]
        a, b = suite.get(query(numbers)), local_suite.get(query(numbers))
        assert a.status == b.status == 200
        assert a.body == b.body


# --- the query string ------------------------------------------------------------------------------

@pytest.mark.parametrize("q,numbers", [
    ("n=%2D5", [-5]),
    ("n=+7+", [7]),
    ("n=%20%2B8%20", [8]),
    ("n=-0", [0]),
    ("n=007", [7]),
    ("n=1&x=abc&n=2&nn=9&N=4", [1, 2]),
    ("%6E=3", [3]),
    ("n=1&&n=2&", [1, 2]),
])
def test_query_is_form_encoded(suite, q, numbers):
    check_answer(suite.get("/?" + q), numbers)


@pytest.mark.parametrize("q,needle", [
    ("n=abc", '"abc"'),
    ("n=", '""'),
    ("n", '""'),
    ("n=1.5", '"1.5"'),
    ("n=0x10", '"0x10"'),
    ("n=1e3", '"1e3"'),
    ("n=99999999999999999999", '"99999999999999999999"'),
    ("n=9223372036854775808", '"9223372036854775808"'),
    ("n=-9223372036854775809", '"-9223372036854775809"'),
    ("n=%zz", "percent-encoding"),
    ("n=1&n=two", '"two"'),
    ("", "no numbers"),
    ("x=1", "no numbers"),
])
def test_bad_numbers_get_400_naming_the_value(suite, q, needle):
    resp = suite.get("/?" + q)
    assert resp.status == 400
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["success"] is False
    assert needle in body["error"]


def test_no_query_at_all_is_400(suite):
    resp = suite.get("/")
    assert resp.status == 400 and resp.json()["success"] is False


# --- the JSON body ------------------------------------------------------------------------------

def post(s, body, **kw):
    return s.request("/", method="POST", body=body if isinstance(body, bytes) else body.encode(), **kw)


def test_post_numbers(suite):
    check_answer(post(suite, '{"numbers":[1,2,3]}', headers={"Content-Type": "application/json"}), [1, 2, 3])
    check_answer(post(suite, ' {"id": "ignored", "numbers" : [ -4 , 5 ], "x": {"numbers": [9]}} '), [-4, 5])


@pytest.mark.parametrize("body,needle", [
    ('{"numbers":[99999999999999999999]}', "99999999999999999999"),
    ('{"numbers":[-9223372036854775809]}', "-9223372036854775809"),
    ('{"numbers":[1.5]}', "1.5"),
    ('{"numbers":[1e3]}', "1e3"),
    ('{"numbers":["1"]}', "expected an integer"),
    ('{"numbers":[1,,2]}', "malformed JSON"),
    ('{"numbers":[1,2]', "malformed JSON"),
    ('{"numbers":[1]} {}', "malformed JSON"),
    ('[1,2,3]', "JSON object"),
    ('{"numbers":1}', "array"),
    ('{"numbers":[]}', "no numbers"),
    ('{}', "no numbers"),
    ('', "malformed JSON"),
    ('{"numbers":[1],"numbers":[2]}', "more than one"),
])
def test_bad_bodies_get_400(suite, body, needle):
    resp = post(suite, body, headers={"Content-Type": "application/json"})
    assert resp.status == 400, resp
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()["success"] is False
    assert needle in resp.json()["error"]


def test_form_bodies_as_curl_sends_them(suite):
    """curl -d sends application/x-www-form-urlencoded: a form is read with the query's grammar,
    a JSON object stays JSON whatever the type, and a body that is neither says which two are."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    check_answer(post(suite, "n=1&n=2&n=%2D3&x=y", headers=form), [1, 2, -3])
    check_answer(post(suite, '{"numbers":[4,5]}', headers=form), [4, 5])
    check_answer(post(suite, "n=6", headers={"Content-Type": "Application/X-WWW-Form-URLEncoded; charset=UTF-8"}), [6])
    resp = post(suite, "n=x", headers=form)
    assert resp.status == 400 and '"x"' in resp.json()["error"], resp
    for ctype in ("text/plain", "multipart/form-data; boundary=b"):
        resp = post(suite, "n=1", headers={"Content-Type": ctype})
        assert resp.status == 400, resp
        assert "JSON" in resp.json()["error"] and "n=1&n=2" in resp.json()["error"], resp


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_post_then_a_get_on_one_connection_are_both_answered(suite, chunked):
    """The body is the POST's, all of it: what follows it on the connection is the next request."""
    body = b'{"numbers":[1,2,3]}'
    framed = (b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if chunked
              else b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    with socket.create_connection(("127.0.0.1", suite.port), timeout=10) as c:
        c.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n" + framed + b"GET /?n=4&n=5 HTTP/1.1\r\nHost: x\r\n\r\n")
        bodies = read_responses(c, 2)
    assert bodies == [answer([1, 2, 3]), answer([4, 5])], bodies


def test_curl_d_posts_a_form(suite):
    """The first thing a user tries after the GET: the real curl, its default form encoding."""
    r = subprocess.run(["curl", "-s", "-d", "n=1&n=2", suite.url + "/"], capture_output=True, text=True, timeout=30)
    assert json.loads(r.stdout) == answer([1, 2]), r.stdout


def test_body_with_invalid_utf8_is_400(suite):
    resp = post(suite, b'{"x":"\xff","numbers":[1]}')
    assert resp.status == 400 and "UTF-8" in resp.json()["error"]


# --- other paths, methods, limits ---------------------------------------------------------------

def test_other_path_is_404(suite):
    resp = suite.get("/other?n=1")
    assert resp.status == 404
    assert resp.json()["success"] is False


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_method_is_405(suite, method):
    resp = suite.request("/?n=1", method=method, body=b"")
    assert resp.status == 405
    assert "GET" in resp.headers["allow"] and "POST" in resp.headers["allow"]
    assert resp.json()["success"] is False


def test_head_has_headers_only(suite):
    resp = suite.request("/?n=1", method="HEAD")
    assert resp.status == 200 and resp.body == b""


def test_too_many_numbers_is_413(small_suite):
    check_answer(small_suite.get(query(range(100))), list(range(100)))
    resp = small_suite.get(query(range(101)))
    assert resp.status == 413 and "at most 100" in resp.json()["error"]
    resp = post(small_suite, json.dumps({"numbers": list(range(101))}))
    assert resp.status == 413 and resp.json()["success"] is False


def test_too_large_a_body_is_413_in_json(small_suite):
    resp = post(small_suite, '{"numbers":[1],"pad":"' + "x" * 5000 + '"}')
    assert resp.status == 413
    assert resp.headers["content-type"] == "application/json"
    assert "4096 bytes" in resp.json()["error"]
    check_answer(small_suite.get("/?n=5"), [5])  # nothing harmed


# --- the counters of STATUS= ------------------------------------------------------------------

def answers_by_status(status):
    """{"200": n, ..., "other": n} from a STATUS= line's "answers 200=N ... other=N" part."""
    part = status.split("answers ", 1)[1].split(",", 1)[0] if "answers " in status else ""
    return {k: int(v) for k, v in (item.split("=") for item in part.split())}


def test_status_counts_each_answer_once_by_status(small_suite):
    """Every answer is counted once, under its own status: 400, 404 and 405 as much as 413 or
    200, and the edge's own answers (404, 413 for a body) like the front end's. A restarted
    front end counts from 0; its STATUS= line comes with the reaper, once a second: wait for
    the one that shows exactly these answers."""
    small_suite.restart_frontend()
    sent = {"200": [small_suite.get("/?n=1"), small_suite.request("/?n=1", method="HEAD")],
            "400": [small_suite.get("/?n=x")],
            "404": [small_suite.get("/elsewhere?n=1")],
            "405": [small_suite.request("/?n=1", method="DELETE", body=b"")],
            "413": [small_suite.get(query(range(101))), post(small_suite, "[" + " " * 5000 + "]")]}
    for status, responses in sent.items():
        assert [r.status for r in responses] == [int(status)] * len(responses)
    expected = {s: 0 for s in ("200", "400", "404", "405", "413", "431", "500", "502", "503", "504", "other")}
    expected.update({s: len(r) for s, r in sent.items()})
    deadline = time.monotonic() + 10
    while answers_by_status(small_suite.status()) != expected:
        assert time.monotonic() < deadline, f"STATUS= says {small_suite.status()!r}; expected answers {expected}"
        time.sleep(0.1)


# --- protocols ---------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["http://localhost/?n=1&n=2", "HTTP://localhost:8080?n=1&n=2"])
def test_absolute_form_targets_are_served(suite, target):
    """RFC 9112 section 3.2.2: a server must accept the absolute form (what proxies send)."""
    with socket.create_connection(("127.0.0.1", suite.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert read_responses(sock, 1) == [answer([1, 2])]


def test_keepalive_and_pipelining(suite):
    lists = [[1, 2, 3], [42], list(range(1, 11)), [-7, 7]]
    with socket.create_connection(("127.0.0.1", suite.port), timeout=10) as sock:
        sock.sendall(b"".join(f"GET {query(n)} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for n in lists))
        assert read_responses(sock, len(lists)) == [answer(n) for n in lists]
        sock.sendall(b"GET /?n=abc HTTP/1.1\r\nHost: x\r\n\r\nGET /?n=9 HTTP/1.1\r\nHost: x\r\n\r\n")
        bad, good = read_responses(sock, 2)
        assert bad["success"] is False and good == answer([9])


def test_http2_prior_knowledge(suite):
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-w", "\n%{http_version}",
                          suite.url + "/?n=1&n=2&n=3"], capture_output=True, text=True, check=True).stdout
    body, version = out.rsplit("\n", 1)
    assert version == "2"
    assert json.loads(body) == answer([1, 2, 3])


def test_a_million_numbers_in_one_body(suite):
    """The default limit, exactly: h2o keeps such a body in a mapped temporary file (seccomp allows it)."""
    import random
    rng = random.Random(1)
    numbers = [rng.randrange(INT64_MIN, INT64_MAX) for _ in range(1_000_000)]
    check_answer(post(suite, json.dumps({"numbers": numbers}), timeout=120), numbers)
    resp = post(suite, json.dumps({"numbers": numbers + [1]}), timeout=120)
    assert resp.status == 413
