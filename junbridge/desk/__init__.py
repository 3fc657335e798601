"""The front desk: the steps that take a message before any department does.

Blocked and flooding senders (abuse), staff commands in a staff place (staff), resident
commands (commands), answers to "is it fixed?" (followup), what leaves an open
conversation and the desk's goodbye (leaving), voice notes, videos, stickers and documents
(unreadable), and the town hall desk that takes what no department claims (triage).
"""
