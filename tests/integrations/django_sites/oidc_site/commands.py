"""Fixture commands the test sends to the provider process (users, the client)."""

import io

from django.contrib.auth.models import Group, User
from django.core.management import call_command
from oidc_provider.models import Client, ResponseType, RSAKey


def setup():
    if not RSAKey.objects.exists():
        call_command("creatersakey", stdout=io.StringIO())


def add_user(username, password, groups=(), name="", email="", active=True):
    first, _, last = name.partition(" ")
    user = User.objects.create_user(
        username, email=email, password=password, first_name=first, last_name=last
    )
    user.is_active = active
    user.save()
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return {"id": user.id}


def set_groups(username, groups):
    user = User.objects.get(username=username)
    user.groups.set([Group.objects.get_or_create(name=g)[0] for g in groups])
    return {}


def add_client(client_id, secret, redirect_uris, post_logout_redirect_uris=()):
    client = Client.objects.create(
        name="Clearpane",
        client_type="confidential",
        client_id=client_id,
        client_secret=secret,
        jwt_alg="RS256",
        require_consent=False,
        reuse_consent=True,
    )
    client.redirect_uris = list(redirect_uris)
    client.post_logout_redirect_uris = list(post_logout_redirect_uris)
    client.scope = ["openid", "profile", "email", "groups"]
    client.save()
    client.response_types.add(ResponseType.objects.get(value="code"))
    return {"id": client.id}
