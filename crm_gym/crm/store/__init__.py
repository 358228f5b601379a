"""Stores: where CRM records live (``memory`` by default)."""

from crm_gym.crm.store.base import Store
from crm_gym.crm.store.memory import MemoryStore

__all__ = ["MemoryStore", "Store"]
