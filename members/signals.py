"""Signals that members sends, so that higher apps can react without members
importing them (events/receivers.py writes the outbox row that carries an
invitation).

Each signal is sent **inside** the transaction that made the change; a
receiver's writes commit or roll back with it. Receivers write rows and queue
work with ``transaction.on_commit``; they never send a message themselves. An
exception in a receiver rolls the change back.
"""

from django.dispatch import Signal

#: A co-guardian invitation was created. Sender: ``members.models.FamilyInvitation``.
#: ``invitation``: the new invitation (its ``phone`` or ``email`` is where it
#: goes); ``base_url``: the portal's address as the inviter saw it, for the link.
family_invitation_created = Signal()

#: A message about the person's own account was asked for: a verification code,
#: an answer texted to a number («not registered» / «already registered») or an
#: allauth mail (``members.services.account_message_send``). Sender:
#: ``members.models.User``. ``message_key``: a random id, unique per message (the
#: outbox row's key, and where its content waits:
#: ``members.selectors.account_message_content``); ``kind``: what it is (for a mail
#: also ``template``, allauth's template prefix); ``phone`` or ``email``: where it
#: goes; ``user``: the account it is about, or None. The content (the code, a
#: link with a key) is never sent with the signal.
account_message_requested = Signal()
