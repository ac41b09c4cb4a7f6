"""The family's pages of the surveys app: open questionnaires, answering, drafts."""
