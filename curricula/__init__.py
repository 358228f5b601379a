"""What to train on next: the Self-Evolving Curriculum bandit and simple samplers."""
