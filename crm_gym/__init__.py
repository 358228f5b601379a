"""crm-gym: Gymnasium environments for LLM agents that work a CRM through tools."""

from crm_gym.crm import CrmApi
from crm_gym.errors import CrmError

__version__ = "0.1.0"
__all__ = ["CrmApi", "CrmError", "__version__"]
