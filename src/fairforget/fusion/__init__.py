"""Fusion of a base model and a debiased checkpoint (WiSE-FT): the `fusion:` settings and fused-checkpoint paths
(`settings`), the weight interpolation (`weights`), the fusion table (`table`), its statistics and verdicts
(`verdict`) and its section of findings.md (`report`); docs/metrics.md, section 11. Above `analysis`, whose
statistics it uses. Import the submodules: this file imports nothing, so the rules' parse-time `settings` import
stays light (no torch)."""
