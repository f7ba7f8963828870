"""Inbound channels: customers' messages (WhatsApp, SMS, email) into the configured helpdesk.

* :mod:`.engine` turns a received message into a ticket or a comment on the contact's open
  ticket, exactly once (the ledger, scope ``inbound``);
* :mod:`.server` is ``cst inbound serve``: the providers' webhooks on the hardened server;
* :mod:`.poll` is ``cst inbound poll`` (an IMAP mailbox);
* :mod:`.replies` delivers agents' public replies back over the channel the ticket came in on.

docs/inbound.md describes the setup.
"""
