"""The CRM domain: entities, stores, the tool API and the tool registry."""

from crm_gym.crm.api import CrmApi
from crm_gym.crm.clock import SystemClock, VirtualClock
from crm_gym.crm.ids import RandomIds, SeededIds
from crm_gym.crm.store import MemoryStore

__all__ = ["CrmApi", "MemoryStore", "RandomIds", "SeededIds", "SystemClock", "VirtualClock"]
