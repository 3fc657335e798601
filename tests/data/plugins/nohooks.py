"""A plugin file that forgot @junbridge.hookimpl: start-up must name this file."""


def register_departments(register):
    pass
