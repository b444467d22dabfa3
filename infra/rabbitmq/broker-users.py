#!/usr/bin/env python3
"""Creates the least-privilege broker users of the Compose system (issue 19; README "Security").

Run once by the Compose service broker-users (image rabbitmq:3.13-management, which ships python3) against the
management API of the rabbitmq service, as the administrator (guest, for operators only). The regexes are the same as
infra/local/rabbitmq.sh and infra/test-support BrokerRoles (ComposeFileTest compares them). The workers of Compose are
replicas (--scale) whose ids are derived from their container's host name, so they share one user, fq-worker, whose
queue permissions cover any worker id; a GPU box elsewhere gets a user of its own (docs/operating.md).

Environment: FQ_BROKER_API (default http://rabbitmq:15672/api), FQ_BROKER_ADMIN_USER / _PASSWORD (guest / guest),
FQ_GATEWAY_BROKER_PASSWORD, FQ_WORKER_BROKER_PASSWORD.
"""
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request

API = os.environ.get("FQ_BROKER_API", "http://rabbitmq:15672/api")
ADMIN = (os.environ.get("FQ_BROKER_ADMIN_USER", "guest"), os.environ.get("FQ_BROKER_ADMIN_PASSWORD", "guest"))

GATEWAY_ALL = r"^forge\..*"
# job messages are handed out through the default exchange (routing key = the worker's queue name)
GATEWAY_WRITE = r"^(forge\..*|amq\.default)$"
# worker ids: any (.+)
WORKER_CONFIGURE = r"^forge\.(jobs\.worker|control)\..+$"
WORKER_WRITE = r"^(forge\.control\..+|forge\.jobs\.dlx|forge\.events)$"
WORKER_READ = r"^(forge\.jobs\.worker\..+|forge\.control\..+|forge\.control)$"
WORKER_TOPIC_WRITE = r"^(job\..+|worker\.status|relay\.preview)$"
WORKER_TOPIC_READ = r"^$"


def put(path, body):
    request = urllib.request.Request(API + path, data=json.dumps(body).encode(), method="PUT")
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", "Basic " + base64.b64encode(":".join(ADMIN).encode()).decode())
    for attempt in range(60):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except (urllib.error.URLError, ConnectionError) as e:
            if isinstance(e, urllib.error.HTTPError) and e.code < 500:
                sys.exit("broker-users: PUT %s answered %s %s" % (path, e.code, e.read()[:300]))
            time.sleep(1)
    sys.exit("broker-users: the management API at %s did not answer" % API)


def user(name, password, configure, write, read):
    if not password:
        sys.exit("broker-users: no password for " + name)
    put("/users/" + name, {"password": password, "tags": ""})
    put("/permissions/%2F/" + name, {"configure": configure, "write": write, "read": read})


user("fq-gateway", os.environ.get("FQ_GATEWAY_BROKER_PASSWORD"), GATEWAY_ALL, GATEWAY_WRITE, GATEWAY_ALL)
user("fq-worker", os.environ.get("FQ_WORKER_BROKER_PASSWORD"), WORKER_CONFIGURE, WORKER_WRITE, WORKER_READ)
put("/topic-permissions/%2F/fq-worker",
    {"exchange": "forge.events", "write": WORKER_TOPIC_WRITE, "read": WORKER_TOPIC_READ})
print("broker-users: fq-gateway and fq-worker are set up")
