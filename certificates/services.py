"""Writes for certificates: every change of a certificate, a batch, a rule, a
design or a preference goes through one of these functions (views, admin, API,
tasks and commands all call them)."""

from __future__ import annotations

# SECTION issuance (helper C)
# END SECTION issuance

# SECTION design (helper B)
# END SECTION design

# SECTION holder (helper D)
# END SECTION holder
