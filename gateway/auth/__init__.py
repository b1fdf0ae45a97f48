"""Client and admin keys: hashing, lookup, where created keys are stored, and the request check."""

from gateway.auth.authenticator import Authenticator, bearer_token, is_loopback
from gateway.auth.errors import AdminForbiddenError, AuthenticationError
from gateway.auth.key_store import FileKeyStore, KeyStoreError, RedisKeyStore, keys_file_path, load_key_ring
from gateway.auth.keys import ClientKey, KeyRing, StoredKey, hash_key, new_plaintext_key, policy_key

__all__ = [
    "AdminForbiddenError", "AuthenticationError", "Authenticator", "ClientKey", "FileKeyStore", "KeyRing",
    "KeyStoreError", "RedisKeyStore", "StoredKey", "bearer_token", "hash_key", "is_loopback", "keys_file_path",
    "load_key_ring", "new_plaintext_key", "policy_key",
]
