"""{% url %} with its answers kept per process (accessgroups.web.links): every URL is the one
Django's reverse() gives, whatever the script prefix, the URLconf or the arguments."""

from __future__ import annotations

import pytest
from django.template import Context, Engine, Template
from django.test import override_settings
from django.urls import NoReverseMatch, path, reverse, set_script_prefix
from django.utils.safestring import mark_safe

from accessgroups.web import links
from accessgroups.web.links import link


@pytest.fixture(autouse=True)
def _fresh():
    links.forget()
    yield
    links.forget()
    set_script_prefix("/")


CASES = [
    ("web:catalogue", (), None),
    ("web:request-approve", (5,), None),
    ("web:request-approve", (6,), None),
    ("web:request-approve", ("7",), None),
    ("web:request-create", (), {"group_id": 9}),
    ("mfa_index", (), None),
    ("account_logout", (), None),
]


@pytest.mark.parametrize("name,args,kwargs", CASES)
def test_a_link_is_djangos_url_the_first_time_and_after(name, args, kwargs):
    expected = reverse(name, args=args, kwargs=kwargs)
    assert link(name, args, kwargs) == expected
    assert link(mark_safe(name), args, kwargs) == expected  # a template's literal
    assert link(name, args, kwargs) == expected


def test_the_script_prefix_and_the_urlconf_are_part_of_the_answer():
    assert link("web:request-approve", (3,)) == "/approvals/requests/3/approve/"
    set_script_prefix("/portal/")
    assert link("web:request-approve", (3,)) == "/portal/approvals/requests/3/approve/"
    set_script_prefix("/")
    assert link("web:catalogue") == "/"
    with override_settings(ROOT_URLCONF=__name__):
        assert link("only-here", (4,)) == "/elsewhere/4/"
        with pytest.raises(NoReverseMatch):
            link("web:catalogue")
    assert link("web:catalogue") == "/"


def test_arguments_that_are_not_plain_are_reversed_each_time():
    class Pk:
        def __init__(self, n):
            self.n = n

        def __str__(self):
            return str(self.n)

    argument = Pk(1)
    assert link("web:request-approve", (argument,)) == "/approvals/requests/1/approve/"
    argument.n = 2  # not kept under the object: its text changed
    assert link("web:request-approve", (argument,)) == "/approvals/requests/2/approve/"
    # True is not kept under the key of 1.
    assert link("web:request-approve", (1,)) == "/approvals/requests/1/approve/"
    with pytest.raises(NoReverseMatch):
        link("web:request-approve", (True,))


def _render(source: str, **context) -> str:
    engine = Engine.get_default()
    return Template(source, engine=engine).render(Context(context))


def test_the_tag_writes_what_djangos_writes():
    assert _render("{% url 'web:request-approve' pk %}", pk=12) == "/approvals/requests/12/approve/"
    assert _render("{% url name group_id=3 %}", name="web:request-create") == reverse(
        "web:request-create", kwargs={"group_id": 3}
    )
    assert _render("{% url 'nowhere' as u %}[{{ u }}]") == "[]"
    assert _render("{% url 'web:catalogue' as u %}[{{ u }}]") == "[/]"
    with pytest.raises(NoReverseMatch):
        _render("{% url 'nowhere' %}")
    # Every template's {% url %} is this one (TEMPLATES builtins), the kept answers with it.
    node = Template("{% url 'web:catalogue' %}", engine=Engine.get_default()).nodelist[0]
    assert isinstance(node, links.LinkNode)
    links.forget()
    _render("{% url 'web:request-approve' pk %}", pk=12)
    assert links._reversed.cache_info().currsize == 1


def _view(request, n):  # pragma: no cover - only reversed
    raise AssertionError


urlpatterns = [path("elsewhere/<int:n>/", _view, name="only-here")]
