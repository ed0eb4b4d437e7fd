"""Authentication and authorisation: API keys, the Permission enum and the role table."""

from tutela.auth.keys import ApiKey, KeyStore, NewKey, Principal
from tutela.auth.permissions import ROLE_PERMISSIONS, Permission, Role, allows

__all__ = ["ROLE_PERMISSIONS", "ApiKey", "KeyStore", "NewKey", "Permission", "Principal", "Role", "allows"]
