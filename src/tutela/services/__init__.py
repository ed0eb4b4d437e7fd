"""Services (tenancy): the platforms or apps a deployment serves, and their per-service bank switches."""

from tutela.services.models import Service, ServiceBank
from tutela.services.store import ServiceStore

__all__ = ["Service", "ServiceBank", "ServiceStore"]
