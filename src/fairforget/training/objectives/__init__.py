"""Fairness objectives; each module registers one with OBJECTIVES."""
