"""An HTTP client run inside a test host (tests/test_scaleout.py): reads {"requests": a list of
[url, numbers], "threads": N} from stdin, sends each as a GET with `threads` keep-alive
connections, and prints [[status, body, numbers], ...] in the order sent. Errors (no answer at
all) are status 0. With "until": PATH it goes round the list again and again until that file
exists, and every 50 answers it writes how many came so far to PATH + ".count"."""

import os

import http.client
import json
import sys
import threading
import urllib.parse


def main():
    spec = json.load(sys.stdin)
    jobs, threads, until = spec["requests"], spec.get("threads", 8), spec.get("until")
    out = []
    lock = threading.Lock()
    nxt = [0]

    def worker():
        conns = {}
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
                if until and i % 50 == 0:
                    with open(until + ".count", "w") as f:
                        f.write(str(len([x for x in out if x is not None])))
                if i >= len(jobs) and not (until and not os.path.exists(until)):
                    break
                out.append(None)
            url, numbers = jobs[i % len(jobs)]
            u = urllib.parse.urlsplit(url)
            path = "/?" + "&".join(f"n={n}" for n in numbers)
            for attempt in range(2):  # a keep-alive connection the server closed: once more, anew
                try:
                    c = conns.get(u.netloc) or http.client.HTTPConnection(u.hostname, u.port, timeout=15)
                    conns[u.netloc] = c
                    c.request("GET", path)
                    r = c.getresponse()
                    result = [r.status, r.read().decode(), numbers]
                    break
                except (OSError, http.client.HTTPException) as e:
                    conns.pop(u.netloc, None)
                    result = [0, repr(e), numbers]
            with lock:
                out[i] = result

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
