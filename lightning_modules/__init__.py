"""LightningModules (one per learner family) and their network components."""
