"""Anti-forgetting remedies; each module registers one with REMEDIES."""
