"""Fixture commands the test sends to the help desk process."""

from django.contrib.auth.models import User
from helpdesk.models import Queue


def setup():
    pass


def add_staff(username, password):
    user = User.objects.create_user(username, email=f"{username}@example.com", password=password)
    user.is_staff = True
    user.is_superuser = True  # may use every queue through the API
    user.save()
    return {"id": user.id}


def add_queue(title, slug):
    queue = Queue.objects.create(title=title, slug=slug, allow_public_submission=True)
    return {"id": queue.id}
