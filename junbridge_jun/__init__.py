"""Jun's departments: street lighting, the Policía Local, the doctor's surgery and the school.

Installed with junbridge, each module is a plugin of its own in the ``junbridge`` entry-point
group (``lighting = "junbridge_jun.lighting"``, see pyproject.toml), so a town turns one on
with its block in channels.yaml, replaces it with a ``plugins_dir`` file of the same name, or
leaves it out with ``JUNBRIDGE_DISABLE_PLUGINS``. Like any town's department, they import
nothing from junbridge but its public API.
"""
