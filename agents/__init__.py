"""Policies and learning for crm-gym: prompts, model backends and GRPO."""
