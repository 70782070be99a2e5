"""The provider's claims: standard profile claims and a ``groups`` scope/claim."""

from django.utils.translation import gettext_lazy as _
from oidc_provider.lib.claims import ScopeClaims


def userinfo(claims, user):
    claims["name"] = user.get_full_name() or user.username
    claims["preferred_username"] = user.username
    claims["email"] = user.email
    return claims


class GroupsClaims(ScopeClaims):
    info_groups = (_("Groups"), _("Your groups."))

    def scope_groups(self):
        return {"groups": sorted(g.name for g in self.user.groups.all())}
