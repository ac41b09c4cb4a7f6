"""Coordinators' pages of the surveys app: templates, surveys, results, exports."""
