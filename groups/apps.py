from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroupsConfig(AppConfig):
    name = "groups"
    verbose_name = _("学伴/家伴小组")

    def ready(self) -> None:
        # handbook is left of groups: groups widens who may co-sign through its hook.
        from handbook.selectors import claim_verifier_scope_register

        from .selectors import cosign_claims_scope

        claim_verifier_scope_register(cosign_claims_scope)
