"""Run by tests/cli/agent.rs inside `signet exec --serve`: google-auth asks the agent for a token.

Usage: gce_token.py compute|default [SCOPE]. Prints the token, the account's email and the
project id (google.auth.default's; "-" for compute_engine.Credentials).
"""
import sys

import google.auth
import google.auth.transport.requests
from google.auth import compute_engine

which = sys.argv[1]
scopes = sys.argv[2:] or None
request = google.auth.transport.requests.Request()
if which == "compute":
    credentials = compute_engine.Credentials(scopes=scopes)
    project = "-"
else:
    credentials, project = google.auth.default(scopes=scopes)
    assert isinstance(credentials, compute_engine.Credentials), type(credentials)
credentials.refresh(request)
assert credentials.valid
print(credentials.token)
print(credentials.service_account_email)
print(project)
