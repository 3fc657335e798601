"""The colegio plugin, tested directly: canteen menu questions and notices for families."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from junbridge.config.settings import TownSettings
from junbridge.departments import Conversation, DepartmentContext, Outcome
from junbridge.model import JunbridgeError, Message, Resident, Sender, ServiceRequest, Status
from junbridge_jun import school
from junbridge_jun.school import School

ROOT = Path(__file__).parents[2]

# Two weeks in rotation: ISO week 48 (23-27 Nov 2026) is weeks[0], week 49 is weeks[1].
MENU = """\
school_year: {from: 2026-09-10, to: 2027-06-22}
weeks:
  - mon:
      es: "Lentejas estofadas · Tortilla de patatas · Fruta"
      en: "Lentil stew · Spanish omelette · Fruit"
    tue:
      es: "Crema de calabaza · Pollo al horno · Yogur"
      en: "Pumpkin soup · Roast chicken · Yoghurt"
    wed:
      es: "Potaje de garbanzos · Merluza en salsa verde · Fruta"
      en: "Chickpea stew · Hake in green sauce · Fruit"
    thu:
      es: "Macarrones con tomate · Albóndigas · Fruta"
      en: "Macaroni · Meatballs · Fruit"
    fri:
      es: "Sopa de picadillo · Pescadilla rebozada · Natillas"
      en: "Chicken broth · Battered whiting · Custard"
  - mon:
      es: "Puchero con fideos · Tortilla francesa · Fruta"
      en: "Chickpea broth with noodles · Omelette · Fruit"
    tue:
      es: "Espaguetis a la boloñesa · Merluza al horno · Fruta"
      en: "Spaghetti bolognese · Baked hake · Fruit"
    wed:
      es: "Lentejas a la jardinera · Pollo en salsa · Yogur"
      en: "Lentils with vegetables · Chicken in sauce · Yoghurt"
    thu:
      es: "Crema de verduras · Pavía de merluza · Fruta"
      en: "Vegetable soup · Battered hake · Fruit"
    fri:
      es: "Arroz con pollo · Tortilla de calabacín · Fruta"
      en: "Rice with chicken · Courgette omelette · Fruit"
dates:
  2026-12-22:
    es: "Comida de Navidad: consomé · Pollo relleno · Turrón"
    en: "Christmas lunch: consommé · Stuffed chicken · Turrón"
closed: [2026-12-23]
"""
# 10:00 in Jun (UTC+1) on Monday 30 November 2026, ISO week 49.
MONDAY_30 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PADRE = Resident(id=52, identities=("twitter:88120451",), name="Manuel Castillo")


class NoRequests:
    """The school reads no stored requests."""

    async def list(
        self, *, department: str | None = None, open_only: bool = False
    ) -> Sequence[ServiceRequest]:
        return []


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "menu.yaml").write_text(MENU, encoding="utf-8")
    return tmp_path


def department(config_dir: Path, now: datetime = MONDAY_30, **settings: Any) -> School:
    context = DepartmentContext(
        town=TownSettings(name="Jun", holidays=[date(2026, 12, 8)]),
        clock=lambda: now,
        requests=NoRequests(),
        config_dir=config_dir,
    )
    return School(School.Settings(**settings), context)


async def ask(dept: School, text: str, language: str = "es") -> Outcome:
    question = Message(
        channel="twitter",
        platform_id="1862033471195",
        conversation="1862033471195",
        sender=Sender(id="88120451", handle="manolo_jun", language=language),
        sent_at=dept.now(),
        text=f"@AytoJun {text}",
    )
    return await dept.handle(
        question, Conversation(department="school", resident=PADRE, language=language)
    )


def answer(dept: School, outcome: Outcome, language: str = "es") -> str:
    [say] = outcome.says
    return dept.render(say, request=None, language=language)


async def test_todays_menu_comes_from_the_weeks_rotation(config_dir: Path) -> None:
    dept = department(config_dir)
    outcome = await ask(dept, "¿Qué comen hoy en el comedor?")

    assert answer(dept, outcome) == (
        "Menú del comedor, lunes, 30 de noviembre:\nPuchero con fideos · Tortilla francesa · Fruta"
    )


async def test_a_question_without_a_day_means_today_in_english(config_dir: Path) -> None:
    dept = department(config_dir)
    outcome = await ask(dept, "school lunch?", "en")

    assert answer(dept, outcome, "en") == (
        "School lunch, Monday, November 30:\nChickpea broth with noodles · Omelette · Fruit"
    )


async def test_the_previous_week_uses_the_other_menu(config_dir: Path) -> None:
    dept = department(config_dir, now=datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    outcome = await ask(dept, "menú de hoy")

    assert answer(dept, outcome).endswith("Potaje de garbanzos · Merluza en salsa verde · Fruta")


async def test_tomorrow(config_dir: Path) -> None:
    dept = department(config_dir)
    assert answer(dept, await ask(dept, "¿y mañana qué hay de comer en el cole?")).endswith(
        "martes, 1 de diciembre:\nEspaguetis a la boloñesa · Merluza al horno · Fruta"
    )
    english = await ask(dept, "What's for lunch tomorrow?", "en")
    assert answer(dept, english, "en") == (
        "School lunch, Tuesday, December 1:\nSpaghetti bolognese · Baked hake · Fruit"
    )


async def test_a_named_weekday(config_dir: Path) -> None:
    dept = department(config_dir)
    outcome = await ask(dept, "¿Qué comen el jueves en el comedor?")

    assert "jueves, 3 de diciembre:\nCrema de verduras" in answer(dept, outcome)


async def test_this_week_lists_five_days(config_dir: Path) -> None:
    dept = department(config_dir)
    text = answer(dept, await ask(dept, "menú de esta semana"))

    title, *days = text.split("\n")
    assert title == "Menú del comedor, semana del 30 de noviembre:"
    assert days == [
        "**Lunes**: Puchero con fideos · Tortilla francesa · Fruta",
        "**Martes**: Espaguetis a la boloñesa · Merluza al horno · Fruta",
        "**Miércoles**: Lentejas a la jardinera · Pollo en salsa · Yogur",
        "**Jueves**: Crema de verduras · Pavía de merluza · Fruta",
        "**Viernes**: Arroz con pollo · Tortilla de calabacín · Fruta",
    ]


async def test_next_week_in_english_shows_the_holiday(config_dir: Path) -> None:
    dept = department(config_dir)
    text = answer(dept, await ask(dept, "canteen menu for next week", "en"), "en")

    title, *days = text.split("\n")
    assert title == "School lunch, week of December 7:"
    assert len(days) == 5
    assert days[0] == "**Monday**: Lentil stew · Spanish omelette · Fruit"
    assert days[1] == "**Tuesday**: no lunch"  # 8 December, a town holiday


async def test_at_the_weekend_there_is_no_canteen(config_dir: Path) -> None:
    saturday = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)
    dept = department(config_dir, now=saturday)

    assert answer(dept, await ask(dept, "menú del comedor")) == (
        "El sábado, 5 de diciembre no hay comedor."
    )
    english = await ask(dept, "school menu today", "en")
    assert answer(dept, english, "en") == "There is no school lunch on Saturday, December 5."


async def test_at_the_weekend_this_week_is_the_coming_one(config_dir: Path) -> None:
    dept = department(config_dir, now=datetime(2026, 12, 5, 11, 0, tzinfo=UTC))
    text = answer(dept, await ask(dept, "comedor esta semana"))

    assert text.startswith("Menú del comedor, semana del 7 de diciembre:")


async def test_special_dates_closed_days_and_the_end_of_the_school_year(config_dir: Path) -> None:
    christmas_lunch = department(config_dir, now=datetime(2026, 12, 22, 9, 0, tzinfo=UTC))
    assert "Comida de Navidad" in answer(christmas_lunch, await ask(christmas_lunch, "comedor hoy"))

    last_day_before_christmas = department(config_dir, now=datetime(2026, 12, 22, 9, 0, tzinfo=UTC))
    outcome = await ask(last_day_before_christmas, "¿y mañana hay comedor?")
    assert answer(last_day_before_christmas, outcome) == (
        "El miércoles, 23 de diciembre no hay comedor."
    )

    summer = department(config_dir, now=datetime(2027, 7, 5, 9, 0, tzinfo=UTC))
    assert "no hay comedor" in answer(summer, await ask(summer, "menú de hoy"))


async def test_each_answer_is_recorded_as_answered_and_closed(config_dir: Path) -> None:
    dept = department(config_dir)
    outcome = await ask(dept, "¿Qué comen hoy?")

    change = outcome.change
    assert change is not None and change.open is True
    assert change.description == "@AytoJun ¿Qué comen hoy?"
    assert change.states == (Status.RESOLVED, Status.CLOSED)
    assert change.note == "answered from the menu"
    assert change.expected == MONDAY_30
    assert outcome.ask is None


async def test_the_menu_file_is_read_on_every_question(config_dir: Path) -> None:
    dept = department(config_dir)
    await ask(dept, "menú de hoy")
    edited = MENU.replace("Puchero con fideos", "Sopa de cocido")
    (config_dir / "menu.yaml").write_text(edited, encoding="utf-8")

    assert "Sopa de cocido" in answer(dept, await ask(dept, "menú de hoy"))


async def test_a_missing_menu_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    dept = department(tmp_path, menu_file="comedor/menu-2026.yaml")

    with pytest.raises(JunbridgeError, match=r"comedor/menu-2026\.yaml does not exist"):
        await ask(dept, "menú de hoy")


async def test_an_invalid_menu_file_is_an_error_naming_the_file_and_the_key(tmp_path: Path) -> None:
    (tmp_path / "menu.yaml").write_text("weeks:\n  - lunes: {es: Lentejas}\n", encoding="utf-8")
    dept = department(tmp_path)

    with pytest.raises(JunbridgeError, match=r"menu\.yaml is not valid: weeks\.0\.lunes\.\[key\]"):
        await ask(dept, "menú de hoy")


async def test_broken_yaml_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "menu.yaml").write_text("weeks: [mon: {es: Lentejas\n", encoding="utf-8")
    dept = department(tmp_path)

    with pytest.raises(JunbridgeError, match=r"menu\.yaml cannot be read"):
        await ask(dept, "menú de hoy")


NOTICES = [
    {"date": "2026-11-27", "es": "Reunión de familias el viernes a las 17:00."},
    {
        "date": "2026-12-18",
        "es": "Festival de Navidad en el patio a las 12:00.",
        "en": "Christmas show in the playground at 12:00.",
    },
    {"date": "2026-12-02", "es": "Excursión a la Alhambra: traed la autorización firmada."},
]


async def test_notices_list_what_is_still_to_come(config_dir: Path) -> None:
    dept = department(config_dir, notices=NOTICES)
    outcome = await ask(dept, "¿Hay algún aviso del cole?")

    assert answer(dept, outcome) == (
        "Avisos del Colegio:\n"
        "• **2 de diciembre**: Excursión a la Alhambra: traed la autorización firmada.\n"
        "• **18 de diciembre**: Festival de Navidad en el patio a las 12:00."
    )
    assert outcome.change is not None and outcome.change.note == "answered from the notices"


async def test_notices_in_english_fall_back_to_spanish(config_dir: Path) -> None:
    dept = department(config_dir, notices=NOTICES)
    text = answer(dept, await ask(dept, "any school notices?", "en"), "en")

    assert "**December 18**: Christmas show in the playground at 12:00." in text
    assert "**December 2**: Excursión a la Alhambra" in text


async def test_no_notices(config_dir: Path) -> None:
    dept = department(config_dir)
    assert answer(dept, await ask(dept, "avisos del cole")) == (
        "Ahora mismo el Colegio no tiene avisos."
    )


def test_canteen_words_bring_a_message_here(config_dir: Path) -> None:
    dept = department(config_dir)
    for text in ("¿Qué comen hoy en el cole?", "menú del comedor", "school lunch today?"):
        question = Message(
            channel="telegram",
            platform_id="5512",
            conversation="-1002200",
            sender=Sender(id="88120451"),
            sent_at=MONDAY_30,
            text=text,
        )
        assert dept.match(question) > 0, text


def test_the_shipped_menu_has_four_weeks_in_both_languages() -> None:
    menu = school.load_menu(ROOT / "menu.yaml")

    assert len(menu.weeks) == 4
    for week in menu.weeks:
        assert list(week) == ["mon", "tue", "wed", "thu", "fri"]
        assert all(set(day) == {"es", "en"} for day in week.values())


def test_the_school_is_public_and_every_reply_exists_in_both_languages(config_dir: Path) -> None:
    assert School.privacy == "public"
    assert set(School.texts["es"]) == set(School.texts["en"])
    assert department(config_dir).missing_translations() == []


def test_the_plugin_registers_the_school() -> None:
    registered: list[type] = []
    school.register_departments(registered.append)
    assert registered == [School]
