"""A department that fails on every message: proves a failing plugin loses nothing."""

import junbridge


class Broken(junbridge.Department):
    """Claims messages about fountains, then raises."""

    name = "fountains"
    titles = {"es": "Fuentes", "en": "Fountains"}

    class Settings(junbridge.DepartmentSettings):
        """departments.fountains."""

        keywords: dict[str, list[str]] = {"es": ["fuente"], "en": ["fountain"]}

    async def handle(self, message, conversation):
        raise ZeroDivisionError("the fountain plugin divided by zero")


@junbridge.hookimpl
def register_departments(register):
    register(Broken)
