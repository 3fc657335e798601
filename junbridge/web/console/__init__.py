"""The staff console at ``/staff``: the queues of a staff member's departments, a request
with its history and photos, and the staff commands' actions, in the browser.

- ``access``: passwords, sessions, cookies, CSRF and wrong-password limits;
- ``pages``: the routes and what each page shows;
- ``actions``: what each action does, through ``Bridge.change`` like a chat command;
- ``texts``: the console's words in Spanish and English.
"""

from junbridge.web.console.pages import StaffConsole

__all__ = ["StaffConsole"]
