"""Run by tests/cli/agent.rs inside `signet exec --serve`: azure-identity asks the agent for a token.

Usage: azure_token.py managed|default SCOPE. Prints the token and its expiry (Unix seconds).
"""
import sys

from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

which, scope = sys.argv[1], sys.argv[2]
if which == "managed":
    credential = ManagedIdentityCredential()
else:
    credential = DefaultAzureCredential()
first = credential.get_token(scope)
# A second call is answered from the SDK's own cache or the agent's; either way the same token.
again = credential.get_token(scope)
assert again.token == first.token, "the second token differs"
print(first.token)
print(first.expires_on)
